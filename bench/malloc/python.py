# python.py: an allocation-heavy Python run for bench/malloc/run.sh (run
# with PYTHONMALLOC=malloc, so that every object goes to the malloc under
# test rather than to pymalloc's arenas).  Dicts, lists, tuples, strings,
# json, sorting, a class per record; prints a deterministic summary.
import json
import random
import sys

random.seed(12345)


class Rec:
    __slots__ = ("key", "tags", "score")

    def __init__(self, key, tags, score):
        self.key = key
        self.tags = tags
        self.score = score


def build(n):
    table = {}
    for i in range(n):
        key = "user-%06d" % i
        tags = [random.choice("abcdefghij") * random.randint(1, 12) for _ in range(i % 7)]
        table[key] = {"id": i, "name": key.upper(), "tags": tags,
                      "pos": (i * 0.5, -i), "note": str(i) * (i % 17)}
    return table


def churn(table, rounds):
    keys = list(table)
    for r in range(rounds):
        for k in random.sample(keys, len(keys) // 4):
            v = table.pop(k)
            v["note"] = v["note"][::-1] + "x" * (r % 5)
            table[k] = v
    return table


out = []
t = build(20000)
t = churn(t, 4)
s = json.dumps(t, sort_keys=True)
back = json.loads(s)
out.append((len(t), len(s), len(back)))

recs = [Rec("".join(random.choice("abcdefgh") for _ in range(random.randint(1, 30))),
            tuple(range(i % 9)), random.random()) for i in range(30000)]
recs.sort(key=lambda r: (len(r.key), r.key, r.score))
out.append((recs[0].key, recs[-1].key, sum(len(r.tags) for r in recs)))

words = {}
text = " ".join(random.choice(["alpha", "beta", "gamma", "delta", "eps"]) + str(i % 1000)
                for i in range(80000))
for w in text.split():
    words[w] = words.get(w, 0) + 1
out.append((len(words), max(words.values()), len(text)))

chunks = []
for i in range(600):
    chunks.append(bytes(random.getrandbits(8) for _ in range(i % 300)) * 3)
blob = b"".join(chunks)
out.append((len(blob), blob.count(b"\x00")))

print(json.dumps(out))
sys.stdout.flush()
