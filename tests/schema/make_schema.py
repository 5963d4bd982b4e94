#!/usr/bin/env python3
"""Builds tests/schema/eve-alert.schema.json: the EVE properties siphon emits, copied verbatim
(types, names) from Suricata's published schema, plus siphon's own `siphon` object.
Run from the repository root: python3 tests/schema/make_schema.py ../shared/eve-schema.json"""
import json, re, sys

src = sys.argv[1] if len(sys.argv) > 1 else "../shared/eve-schema.json"
# The detector names, in table order, from the detector table (each row is `<module>::SPEC`,
# and a detector's module is its name; detect::table_tests checks the schema matches).
table = open("src/detect/mod.rs").read().split("pub const ALL: &[Spec] = &[", 1)[1].split("];", 1)[0]
DETECTORS = re.findall(r"(\w+)::SPEC", table)
s = json.load(open(src))
p = s["properties"]

def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k != "suricata"}
    if isinstance(o, list):
        return [strip(x) for x in o]
    return o

keep = ["timestamp", "flow_id", "event_type", "vlan", "src_ip", "src_port", "dest_ip", "dest_port",
        "proto", "icmp_type", "icmp_code", "community_id", "alert", "dns", "tls", "http", "flow", "tunnel", "stats"]
props = {k: strip(p[k]) for k in keep}
# Community ID v1: "1:" and the base64 of a SHA-1 (20 bytes).
props["community_id"]["pattern"] = "^1:[A-Za-z0-9+/]{27}=$"
defs, needed = {}, set(re.findall(r"#/\$defs/([A-Za-z0-9_.\-]+)", json.dumps(props)))
while True:
    new = set()
    for d in needed:
        defs[d] = strip(s["$defs"][d])
        new |= set(re.findall(r"#/\$defs/([A-Za-z0-9_.\-]+)", json.dumps(defs[d])))
    if new <= needed:
        break
    needed |= new
props["siphon"] = {
    "type": "object", "additionalProperties": False,
    "required": ["detector", "score", "mitre", "evidence"],
    "properties": {
        "detector": {"type": "string", "enum": DETECTORS},
        "score": {"type": "number"},
        "mitre": {"type": "array", "minItems": 1,
                  "items": {"type": "string", "pattern": "^T[0-9]{4}(\\.[0-9]{3})?$"}},
        "evidence": {"type": "object", "minProperties": 1},
        "source": {"type": "string", "enum": ["netflow"]},
        "exporter": {"type": "string"},
        "observation_domain": {"type": "integer", "minimum": 0},
    },
}
# The external side's country and network (docs/geoip.md), named as Logstash's geoip filter
# names them in legacy mode; Suricata's schema has no geoip object.
props["geoip"] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ip"],
    "properties": {
        "ip": {"type": "string"},
        "country_code2": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "country_name": {"type": "string"},
        "asn": {"type": "integer", "minimum": 1},
        "as_org": {"type": "string"},
    },
}
props["event_type"] = {"type": "string", "enum": ["alert"]}
props["alert"]["required"] = ["action", "gid", "signature_id", "rev", "signature", "category", "severity"]
schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$comment": "siphon's EVE alert: the fields siphon emits, with the types and names of Suricata's "
                "published EVE schema (copied verbatim for these properties), plus siphon's own "
                "namespaced `siphon` object. Regenerate with tests/schema/make_schema.py.",
    "type": "object", "additionalProperties": False,
    "required": ["timestamp", "flow_id", "event_type", "src_ip", "dest_ip", "proto", "alert", "siphon"],
    "properties": props, "$defs": defs,
}
json.dump(schema, open("tests/schema/eve-alert.schema.json", "w"), indent=1)
