#!/usr/bin/env python3
"""Writes the seeds of the fuzz targets whose input is several records
(fuzz/records.h: 2-byte little-endian length, bytes):

- fuzz/corpus/tally_stream/: rules + a race + tallies. Each stream makes the
  detector fire: crossings both ways, a leader change, milestones, and a
  runoff or a winner becoming certain.
- fuzz/corpus/mention_catalog/: a terms file + races + posts naming their
  candidates by name, surname, handle, hashtag, alias and configured term.

    fuzz/seeds/make_streams.py    # needs flatc (flatbuffers-compiler)
"""
import json
import os
import struct
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMAS = os.path.join(ROOT, "schemas")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


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
    write("tally_stream", name, msgs)


def write(target, name, records):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        for r in records:
            f.write(struct.pack("<H", len(r)) + r)


def catalog(name, terms, races, texts):
    with tempfile.TemporaryDirectory() as tmp:
        records = [terms.encode()]
        for i, race in enumerate(races):
            records.append(flatc("race.fbs", race, tmp, "race%d" % i))
        for i, text in enumerate(texts):
            post = {"id": "p%d" % i, "author": "a", "created_at_ms": 1492556400000 + i,
                    "text": text}
            records.append(flatc("post.fbs", post, tmp, "post%d" % i))
    write("mention_catalog", name, records)


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
catalog("ga06-two-races", "# configured terms\njon-ossoff: Ossoff2017, flip the sixth\nkaren-handel: Handel4Congress\n",
        [{"race_id": "us-house-6", "name": "U.S. House 6", "version": 1,
          "candidates": [{"id": "jon-ossoff", "name": "Jon Ossoff", "aliases": ["#GA06Ossoff"]},
                         {"id": "karen-handel", "name": "Karen Handel"},
                         {"id": "bob-gray", "name": "Bob Gray Jr."}]},
         {"race_id": "ga-senate", "version": 1,
          "candidates": [{"id": "jon-ossoff", "name": "Jon Ossoff"},
                         {"id": "david-perdue", "name": "David Perdue", "aliases": ["Perdue"]}]}],
        ["JON OSSOFF leads, Karen Handel close #GA06", "@JonOssoff #KarenHandel Óssoff",
         "flip the sixth! Handel4Congress? Bob Gray", "Hillary is not Hill; Perdue, perdue.",
         "nothing here"])
