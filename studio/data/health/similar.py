"""Records that are nearly the same (paraphrase-level near duplicates): MinHash over word pairs, with LSH.

Each record's text (normalised: lower case, punctuation as spaces; system turns left out, as many
records share one) becomes its set of word pairs (2-word shingles); two records are near duplicates when
the Jaccard similarity of those sets, as MinHash estimates it (``NUM_PERM`` permutations, ``datasketch``),
is at least ``NEAR_THRESHOLD``. MinHash LSH finds the candidates; each is then confirmed with the exact
Jaccard similarity of the two sets (kept as 32-bit hashes of the pairs), so estimates never flag a record: a 30-word answer with one word changed shares 27 of 31 pairs (0.87),
while templated records that differ in their facts ("0 degrees Celsius is 32 degrees Fahrenheit" and
"10 degrees Celsius is 50 degrees Fahrenheit") share far fewer (0.62). Records with fewer than
``MIN_PAIRS`` pairs are too short to judge this way (exact and normalised repeats still are). Each record is compared with the first record of each group kept so far, so the first one
of a group stays and the later ones are flagged (and dropped by the fix). Only the first
``MINHASH_LIMIT`` records are indexed: the index takes a few KB per record, so memory stays bounded on big files.
"""

from __future__ import annotations

import zlib

import numpy as np

from studio.data.health.keys import _norm, _texts

NEAR_THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE_WORDS = 2
MIN_PAIRS = 4
MINHASH_LIMIT = 25_000
BANDS = 16
MAX_TRIED = 20
BUCKET = 32


def similarity_text(rec: dict) -> str:
    """What is compared: the record's text without its system turns, normalised."""
    msgs = rec.get("messages")
    if msgs is not None and any(m["role"] == "system" for m in msgs):
        rec = {**rec, "messages": [m for m in msgs if m["role"] != "system"]}
    return _norm(_texts(rec))


def shingles(normalised: str) -> set[bytes]:
    words = normalised.split()
    return {" ".join(words[i: i + SHINGLE_WORDS]).encode("utf-8", "surrogatepass")
            for i in range(len(words) - SHINGLE_WORDS + 1)}


class NearIndex:
    """Finds, for each new text, an earlier kept text it nearly repeats.

    Locality-sensitive hashing over the MinHash signature: ``BANDS`` bands of ``NUM_PERM / BANDS`` values;
    records that agree on a whole band are candidates (at Jaccard 0.8 a pair agrees on some band 95% of the
    time; at 0.5, 6%), tried in the order of how many bands they agree on, at most ``MAX_TRIED`` per record.
    A bucket holds at most ``BUCKET`` records, so templated data (thousands of records alike) stays linear.
    """

    def __init__(self, threshold: float = NEAR_THRESHOLD, limit: int | None = None):
        self.threshold, self.limit = threshold, MINHASH_LIMIT if limit is None else limit
        self.buckets: dict[tuple[int, int], list] = {}
        self.kept: dict = {}
        self.seen = 0
        self._perms = None

    @property
    def full(self) -> bool:
        return self.seen >= self.limit

    def add(self, key, normalised: str):
        """The key of an earlier kept record that ``normalised`` nearly repeats (it is not kept), else None
        (it is kept, for later records to be compared with)."""
        from datasketch import MinHash

        if self.full:
            return None
        pairs = shingles(normalised)
        if len(pairs) < MIN_PAIRS:
            return None
        self.seen += 1
        if self._perms is None:
            first = MinHash(num_perm=NUM_PERM, seed=1)
            self._perms = (first.permutations, first.scheme)
        m = MinHash(num_perm=NUM_PERM, seed=1, permutations=self._perms[0], scheme=self._perms[1])
        m.update_batch(list(pairs))
        rows = NUM_PERM // BANDS
        bands = [(b, hash(m.hashvalues[b * rows: (b + 1) * rows].tobytes())) for b in range(BANDS)]
        votes: dict = {}
        for band in bands:
            for k in self.buckets.get(band, ()):
                votes[k] = votes.get(k, 0) + 1
        exact = np.unique(np.fromiter((zlib.crc32(p) for p in pairs), dtype=np.uint32, count=len(pairs)))
        best, best_sim = None, 0.0
        for k in sorted(votes, key=lambda k: -votes[k])[:MAX_TRIED]:
            sim = _jaccard(self.kept[k], exact)
            if sim >= self.threshold and sim > best_sim:
                best, best_sim = k, sim
        if best is not None:
            return best
        self.kept[key] = exact
        for band in bands:
            bucket = self.buckets.setdefault(band, [])
            if len(bucket) < BUCKET:
                bucket.append(key)
        return None


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)


def near_keep(records: list[dict], threshold: float = NEAR_THRESHOLD) -> list[bool]:
    """For records in order: False for each that nearly repeats an earlier kept one."""
    index = NearIndex(threshold)
    return [index.add(i, similarity_text(r)) is None for i, r in enumerate(records)]
