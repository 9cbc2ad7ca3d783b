#!/usr/bin/env python3
"""Writes fuzz/corpus/tally_stream/: rules + a race + tallies, framed as
fuzz/tally_stream.cc reads them (2-byte little-endian length, bytes).

    fuzz/seeds/make_tally_stream.py    # needs flatc (flatbuffers-compiler)

Each stream makes the detector fire: crossings both ways, a leader change,
milestones, and a runoff or a winner becoming certain.
"""
import json
import os
import struct
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMAS = os.path.join(ROOT, "schemas")
OUT = os.path.join(ROOT, "fuzz", "corpus", "tally_stream")


def flatc(schema, table, tmp, name):
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(table, f)
    subprocess.run(["flatc", "-b", "-o", tmp, os.path.join(SCHEMAS, schema), path], check=True)
    with open(os.path.join(tmp, name + ".bin"), "rb") as f:
        return f.read()


def stream(name, rules, candidates, precincts, reports):
    with tempfile.TemporaryDirectory() as tmp:
        race = {"race_id": "r", "name": "R", "version": 1,
                "candidates": [{"id": c, "name": c.title()} for c in candidates],
                "precincts": [{"id": p, "county": "C" + p[-1], "registered_voters": rv}
                              for p, rv in precincts]}
        msgs = [rules.encode(), flatc("race.fbs", race, tmp, "race")]
        for i, (precinct, version, votes) in enumerate(reports):
            tally = {"race_id": "r", "precinct_id": precinct, "version": version,
                     "event_time_ms": 1497999600000 + 60000 * i, "votes": votes,
                     "ballots_cast": sum(votes), "complete": True}
            msgs.append(flatc("tally.fbs", tally, tmp, "t%d" % i))
    with open(os.path.join(OUT, name), "wb") as f:
        for m in msgs:
            f.write(struct.pack("<H", len(m)) + m)


os.makedirs(OUT, exist_ok=True)
# Three candidates: A leads above 50 %, falls below, B takes the lead; with
# every precinct in, nobody can reach 50 %: a runoff.
stream("runoff-three-candidates", "thresholds = 50\nhysteresis = 0.25\nmilestones = 25,50,75,100\n",
       ["a", "b", "c"], [("p1", 100), ("p2", 100), ("p3", 100), ("p4", 100)],
       [("p1", 1, [60, 30, 10]), ("p2", 1, [40, 45, 15]), ("p3", 1, [20, 60, 20]),
        ("p1", 2, [50, 35, 15]), ("p4", 1, [30, 40, 30])])
# Two candidates, one pulls ahead until the rest cannot catch up: a winner.
stream("winner-two-candidates", "# defaults, but a lower bar\nthresholds = 40, 50, 60\nmin_reporting = 0\n"
       "leader_change = true\nrunoff_certain = false\n",
       ["x", "y"], [("p1", 100), ("p2", 50), ("p3", 10)],
       [("p1", 1, [70, 30]), ("p2", 1, [10, 40]), ("p2", 1, [10, 40]), ("p3", 1, [9, 1]),
        ("p2", 3, [40, 10])])
# The first stream with the leader rule off: the runoff alert still names
# the leader.
stream("runoff-without-leader-change", "leader_change = false\nmilestones = 100\n",
       ["a", "b", "c"], [("p1", 100), ("p2", 100)],
       [("p1", 1, [40, 35, 25]), ("p2", 1, [30, 40, 30])])
