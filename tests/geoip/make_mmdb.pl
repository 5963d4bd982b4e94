#!/usr/bin/perl
# Writes two small MaxMind DB files for the geoip tests with Debian's libmaxmind-db-writer-perl
# (MaxMind's own writer): OUTDIR/country.mmdb (type GeoLite2-Country) and OUTDIR/asn.mmdb
# (type GeoLite2-ASN), with GeoLite2's record layout, mapping the documentation ranges siphon's
# captures use as "the internet" to countries and networks:
#   192.0.2.0/24    DE  AS64496  Example Transit DE
#   198.51.100.0/24 FR  AS64497  Example Hosting FR
#   203.0.113.0/24  NL  AS64500  Documentation Cloud NL
#   2001:db8::/32   JP  AS64501  Example IPv6 JP
# and, in the ASN database only, 203.0.113.16/28 (the upload sinks of pcaps/README.md: .20 PUT,
# .21 FTP, .23 POST, .24, .25 SMTP) as AS64502 "Upload Sinks NL": a network few home hosts
# of the bundled captures talk to, for the prevalence test.
# Usage: perl tests/geoip/make_mmdb.pl OUTDIR
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUTDIR\n";
my @ranges = (
    ['192.0.2.0/24',    'DE', 'Germany',     64496, 'Example Transit DE'],
    ['198.51.100.0/24', 'FR', 'France',      64497, 'Example Hosting FR'],
    ['203.0.113.0/24',  'NL', 'Netherlands', 64500, 'Documentation Cloud NL'],
    ['2001:db8::/32',   'JP', 'Japan',       64501, 'Example IPv6 JP'],
);

sub tree {
    my ($type, $types) = @_;
    return MaxMind::DB::Writer::Tree->new(
        ip_version            => 6,
        record_size           => 24,
        database_type         => $type,
        languages             => ['en'],
        description           => { en => "siphon test $type" },
        map_key_type_callback => sub { $types->{ $_[0] } },
        # The documentation ranges are "reserved"; the writer skips reserved networks unless told.
        remove_reserved_networks => 0,
        alias_ipv6_to_ipv4       => 1,
    );
}

my $country = tree('GeoLite2-Country', {
    country => 'map', iso_code => 'utf8_string', names => 'map', en => 'utf8_string',
    geoname_id => 'uint32', continent => 'map', code => 'utf8_string',
});
my $asn = tree('GeoLite2-ASN', {
    autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string',
});
for my $r (@ranges) {
    my ($net, $cc, $name, $as, $org) = @$r;
    $country->insert_network($net, {
        country => { iso_code => $cc, names => { en => $name }, geoname_id => 1 },
    });
    $asn->insert_network($net, { autonomous_system_number => $as, autonomous_system_organization => $org });
}
$asn->insert_network('203.0.113.16/28',
    { autonomous_system_number => 64502, autonomous_system_organization => 'Upload Sinks NL' });
for my $pair (['country.mmdb', $country], ['asn.mmdb', $asn]) {
    open my $fh, '>:raw', "$out/$pair->[0]" or die "$out/$pair->[0]: $!\n";
    $pair->[1]->write_tree($fh);
    close $fh or die "$out/$pair->[0]: $!\n";
}
