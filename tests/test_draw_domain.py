"""draw-v1 as pure functions (SPEC §5): exact strata, fairness, matching rules, verification."""
import math
from collections import Counter

import draw_reference
import pytest

from portal.domain import draw as algo


def _pool(n, strata="ABCD"):
    return [algo.Candidate(f"91411421MA{i:08d}", strata[i % len(strata)]) for i in range(n)]


def _cert(pool, rules, nonce, entropy, per_target, eligible_for):
    ph = algo.pool_hash(pool)
    seed = algo.derive_seed(nonce, ph, entropy)
    outcomes, selected = algo.select(pool, rules, seed)
    eligible = {s.uscc: eligible_for(s.uscc) for s in selected}
    assignments = algo.assign_inspectors(selected, eligible, per_target, seed)
    return {"algorithm": "draw-v1", "pool": [{"uscc": c.uscc, "stratum": c.stratum} for c in pool],
            "pool_hash": ph, "commitment": algo.commitment(nonce), "nonce": nonce, "public_entropy": entropy,
            "seed": seed, "strata": [{"stratum": o.stratum, "N": o.population, "n": o.drawn,
                                      **({"ratio": o.ratio} if o.ratio else {}),
                                      **({"count": o.count} if o.count is not None else {})} for o in outcomes],
            "inspectors_per_target": per_target,
            "selected": [{"uscc": s.uscc, "stratum": s.stratum, "key": s.key, "eligible": eligible[s.uscc],
                          "inspectors": a.inspectors} for s, a in zip(selected, assignments)]}


def test_matches_independent_implementation():
    pool = _pool(500)
    rules = [algo.StratumRule("A", ratio="0.01"), algo.StratumRule("B", ratio="0.02"),
             algo.StratumRule("C", ratio="0.1"), algo.StratumRule("D", count=7)]
    lic = [f"L{i:03d}" for i in range(9)]
    cert = _cert(pool, rules, "ab" * 32, "2025088 05 11 23 28 30 + 02 09", {"X": 2, "Y": 1},
                 lambda u: {"X": lic[:6], "Y": lic[6:]})
    ref = draw_reference.recompute(cert)
    assert (ref["pool_hash"], ref["commitment"], ref["seed"]) == (cert["pool_hash"], cert["commitment"], cert["seed"])
    assert ref["strata"] == [{k: s[k] for k in ("stratum", "N", "n")} for s in cert["strata"]]
    assert ref["selected"] == [{k: s[k] for k in ("uscc", "stratum", "key", "inspectors")} for s in cert["selected"]]
    assert algo.verify(cert) == []


def test_known_vectors():
    # Golden values computed by hand from SPEC §5 with hashlib/hmac.
    assert algo.commitment("00" * 32) == draw_reference.sha256_hex("00" * 32)
    assert algo.pool_text([algo.Candidate("B", "2"), algo.Candidate("A", "1")]) == "A\t1\nB\t2\n"
    assert algo.derive_seed("n", "p", "e") == draw_reference.hmac_hex("n", "p|e")
    assert algo.entity_key("s", "U") == draw_reference.hmac_hex("s", "U")
    assert algo.inspector_key("s", "U", "L") == draw_reference.hmac_hex("s", "U|L")


@pytest.mark.parametrize("population,ratio,expected", [
    (100, "0.3", 30), (101, "0.3", 31), (10, "0.1", 1), (7, "0.01", 1), (0, "0.3", 0), (1000, "0.001", 1),
    (3, "1", 3), (5, "0", 0), (333, "0.03", 10), (100, "0.07", 7),  # 100 × 0.07 = 7 exactly (float says 7.000000000000001)
])
def test_stratum_size_is_exact(population, ratio, expected):
    assert algo.stratum_size(population, algo.StratumRule("S", ratio=ratio)) == expected


def test_count_is_capped_and_bad_rules_fail():
    assert algo.stratum_size(4, algo.StratumRule("S", count=10)) == 4
    with pytest.raises(algo.DrawError):
        algo.stratum_size(4, algo.StratumRule("S", ratio="1.5"))
    with pytest.raises(algo.DrawError):
        algo.select([algo.Candidate("X", "A"), algo.Candidate("X", "B")], [algo.StratumRule("A", count=1)], "s")


def test_changing_one_candidate_changes_pool_hash_and_wrong_nonce_fails():
    pool = _pool(100)
    cert = _cert(pool, [algo.StratumRule(s, ratio="0.1") for s in "ABCD"], "cd" * 32, "e", {"X": 1},
                 lambda u: {"X": ["L1", "L2"]})
    changed = dict(cert, pool=[dict(p) for p in cert["pool"]])
    changed["pool"][5]["stratum"] = "D" if changed["pool"][5]["stratum"] != "D" else "A"
    assert algo.verify(changed)[0].startswith("pool_hash 不符")
    wrong = dict(cert, nonce="ce" * 32)
    assert algo.verify(wrong)[0].startswith("commitment 不符")


def _wilson_hilferty(df, z=2.326348):  # upper 1% point of chi-square
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def test_selection_frequencies_pass_chi_square_at_one_percent():
    pool = [algo.Candidate(f"91411421MA{i:08d}", "ALL") for i in range(1000)]
    ph = algo.pool_hash(pool)
    rules = [algo.StratumRule("ALL", count=50)]
    counts = Counter()
    seeds = 2000
    for i in range(seeds):
        nonce = draw_reference.sha256_hex(f"nonce-{i}")
        _, selected = algo.select(pool, rules, algo.derive_seed(nonce, ph, f"entropy-{i}"))
        assert len(selected) == 50
        counts.update(s.uscc for s in selected)
    expected = seeds * 50 / 1000
    statistic = sum((counts[c.uscc] - expected) ** 2 / expected for c in pool)
    assert statistic < _wilson_hilferty(999), statistic
    # Every single entity too: a two-sided binomial bound at 1% after a Bonferroni correction for 1,000 tests.
    p = 50 / 1000
    sd = math.sqrt(seeds * p * (1 - p))
    z = 4.417  # two-sided 0.01/1000
    assert all(abs(counts[c.uscc] - expected) <= z * sd for c in pool), (min(counts.values()), max(counts.values()))


def test_load_balanced_and_conflicts_respected_in_matching():
    pool = _pool(400, strata="S")
    _, selected = algo.select(pool, [algo.StratumRule("S", ratio="0.25")], "seed")
    lic = [f"L{i}" for i in range(7)]
    everyone = {s.uscc: {"X": lic} for s in selected}
    load = Counter(x for a in algo.assign_inspectors(selected, everyone, {"X": 2}, "seed") for x in a.inspectors)
    assert max(load.values()) - min(load.values()) <= 1
    conflicted = {s.uscc: {"X": lic[1:]} for s in selected}  # L0 may never inspect anyone
    assert all("L0" not in a.inspectors for a in algo.assign_inspectors(selected, conflicted, {"X": 2}, "seed"))
    with pytest.raises(algo.NotEnoughInspectors):
        algo.assign_inspectors(selected, {s.uscc: {"X": ["L1"]} for s in selected}, {"X": 2}, "seed")


def test_lowest_ranked_equals_full_sort():
    import random
    rng = random.Random(7)
    for _ in range(200):
        pool = [f"L{i}" for i in rng.sample(range(60), rng.randint(0, 30))]
        load = Counter({lic: rng.randint(0, 3) for lic in pool})
        need = rng.randint(0, len(pool))
        key = lambda lic: draw_reference.hmac_hex("seed", "U|" + lic)  # noqa: E731
        assert algo._lowest_ranked(pool, need, load, key) == sorted(pool, key=lambda x: (load[x], key(x)))[:need]


@pytest.mark.parametrize("key", ["", "k", "ab" * 32, "x" * 65, "长密钥" * 30])
def test_fast_keyer_is_hmac_sha256(key):
    keyed = algo._keyer(key)
    for message in ("", "91411421MA00000001", "U|L1", "中文"):
        assert keyed(message) == draw_reference.hmac_hex(key, message)
