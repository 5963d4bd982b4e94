#!/usr/bin/perl
# Writes a real-size country database from the Debian package tor-geoipdb (Tor's IPv4 and IPv6
# country ranges, converted from the IPFire Location database), for the lookup benchmark:
#   perl tests/geoip/make_tor_mmdb.pl OUT.mmdb [/usr/share/tor/geoip [/usr/share/tor/geoip6]]
# IPv4 lines are "FROM,TO,CC" as integers, IPv6 lines "FROM,TO,CC" as addresses.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;
use Socket qw(inet_ntoa);

my $out = shift @ARGV or die "usage: $0 OUT.mmdb [geoip [geoip6]]\n";
my $v4 = shift @ARGV // '/usr/share/tor/geoip';
my $v6 = shift @ARGV // '/usr/share/tor/geoip6';
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 24,
    database_type            => 'GeoLite2-Country',
    languages                => ['en'],
    description              => { en => 'tor-geoipdb country ranges (siphon bench)' },
    map_key_type_callback    => sub { { country => 'map', iso_code => 'utf8_string' }->{ $_[0] } },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
);
my %rec;
sub data { my $cc = shift; $rec{$cc} //= { country => { iso_code => $cc } } }
my ($n, $skipped) = (0, 0);
open my $f4, '<', $v4 or die "$v4: $!\n";
while (<$f4>) {
    next if /^#/;
    chomp;
    my ($a, $b, $cc) = split /,/;
    next unless defined $cc && $cc =~ /^[A-Z]{2}$/;
    $tree->insert_range(inet_ntoa(pack 'N', $a), inet_ntoa(pack 'N', $b), data($cc));
    $n++;
}
if (-e $v6) {
    open my $f6, '<', $v6 or die "$v6: $!\n";
    while (<$f6>) {
        next if /^#/;
        chomp;
        my ($a, $b, $cc) = split /,/;
        next unless defined $cc && $cc =~ /^[A-Z]{2}$/;
        # 6to4 (2002::/16), Teredo (2001::/32) and ::ffff:0:0/96 are aliases of the IPv4 tree.
        if (eval { $tree->insert_range($a, $b, data($cc)); 1 }) { $n++ } else { $skipped++ }
    }
}
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
print STDERR "$out: $n ranges ($skipped aliased IPv6 ranges skipped)\n";
