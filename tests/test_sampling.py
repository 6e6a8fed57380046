from studio.engine.sampling import LengthBucketSampler


def padded_tokens(lengths, batches):
    return sum(max(lengths[i] for i in b) * len(b) for b in batches)


def test_every_example_once_per_epoch_in_batches_of_similar_length():
    lengths = [50 + (i * 37) % 200 for i in range(24)]  # a small, mixed set
    s = LengthBucketSampler(lengths, batch_size=8, seed=1)
    batches = s.batches()
    assert sorted(i for b in batches for i in b) == list(range(24)) == sorted(list(iter(s)))
    assert max(lengths[i] for i in batches[0]) == max(lengths)  # longest first: out of memory shows at once
    naive = [list(range(k, k + 8)) for k in range(0, 24, 8)]
    assert padded_tokens(lengths, batches) < 0.8 * padded_tokens(lengths, naive)


def test_order_is_random_per_epoch_but_repeatable_for_resume():
    lengths = [(i * 7919) % 300 for i in range(400)]
    s = LengthBucketSampler(lengths, batch_size=8, seed=3, chunk_batches=4)
    first = list(iter(s))
    assert list(iter(s)) == first  # same epoch, same order: a resumed run skips the right batches
    s.set_epoch(1)
    assert list(iter(s)) != first
