"""draw-v1: the publicly verifiable double-random draw (SPEC §5).

Standard library only, no Flask: anyone can re-run these functions (or their
own implementation of SPEC §5) against a published certificate.

    lock:   pool_hash = SHA-256(lines "USCC\\tstratum\\n" sorted by USCC)
            nonce = 32 random bytes (hex), commitment = SHA-256(nonce hex)
    draw:   seed = HMAC-SHA256(nonce hex, pool_hash + "|" + public_entropy)
            key(entity) = HMAC-SHA256(seed, USCC); n smallest keys per stratum
            n = ceil(N × ratio) computed exactly, or the given count, at most N
    match:  per drawn entity (in key order), per department: eligible inspectors
            ranked by (assignments so far in this draw, HMAC-SHA256(seed, USCC|licence))
"""
import hashlib
import heapq
import hmac
import math
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

ALGORITHM = "draw-v1"


class DrawError(ValueError):
    """A draw that cannot be made as asked (message in Chinese, for the clerk)."""


class NotEnoughInspectors(DrawError):
    pass


@dataclass(frozen=True)
class Candidate:
    uscc: str
    stratum: str


@dataclass(frozen=True)
class StratumRule:
    """Draw `ratio` (a decimal string such as "0.3") or a fixed `count` from one stratum."""

    stratum: str
    ratio: str | None = None
    count: int | None = None


@dataclass(frozen=True)
class StratumOutcome:
    stratum: str
    population: int  # N
    drawn: int  # n
    ratio: str | None = None
    count: int | None = None


@dataclass(frozen=True)
class Selected:
    uscc: str
    stratum: str
    key: str


@dataclass
class Assignment:
    uscc: str
    inspectors: list[str] = field(default_factory=list)  # licence numbers, department by department


def _hmac_hex(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _keyer(key: str):
    """HMAC-SHA256 (RFC 2104) with a fixed key, as hmac.new(key, msg, sha256).hexdigest().

    The padded inner and outer hash states are computed once and copied per message:
    about twice as fast as copying an hmac object, which matters for 1,000,000-entity pools.
    """
    block = 64  # SHA-256 block size
    k = key.encode("utf-8")
    if len(k) > block:
        k = hashlib.sha256(k).digest()
    k = k.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))

    def keyed(message: str) -> str:
        i = inner.copy()
        i.update(message.encode("utf-8"))
        o = outer.copy()
        o.update(i.digest())
        return o.hexdigest()

    return keyed


def pool_text(candidates) -> str:
    """Lines "USCC<TAB>stratum<LF>" sorted by USCC (code-point order), as hashed for `pool_hash`."""
    return "".join(f"{u}\t{s}\n" for u, s in sorted((c.uscc, c.stratum) for c in candidates))


def pool_hash(candidates) -> str:
    return hashlib.sha256(pool_text(candidates).encode("utf-8")).hexdigest()


def new_nonce() -> str:
    return secrets.token_bytes(32).hex()


def commitment(nonce_hex: str) -> str:
    return hashlib.sha256(nonce_hex.encode("utf-8")).hexdigest()


def derive_seed(nonce_hex: str, pool_hash_hex: str, public_entropy: str) -> str:
    return _hmac_hex(nonce_hex, f"{pool_hash_hex}|{public_entropy}")


def entity_key(seed_hex: str, uscc: str) -> str:
    return _hmac_hex(seed_hex, uscc)


def inspector_key(seed_hex: str, uscc: str, licence_no: str) -> str:
    return _hmac_hex(seed_hex, f"{uscc}|{licence_no}")


def stratum_size(population: int, rule: StratumRule | None) -> int:
    """n for one stratum: ceil(N × ratio) on the exact decimal, or the count; never more than N."""
    if rule is None:
        return 0
    if rule.count is not None:
        wanted = int(rule.count)
    elif rule.ratio is not None:
        ratio = Fraction(str(rule.ratio).strip())
        if ratio < 0 or ratio > 1:
            raise DrawError(f"分层 {rule.stratum} 的抽取比例 {rule.ratio} 应在 0 与 1 之间")
        wanted = math.ceil(population * ratio)
    else:
        raise DrawError(f"分层 {rule.stratum} 既没有抽取比例也没有抽取数量")
    if wanted < 0:
        raise DrawError(f"分层 {rule.stratum} 的抽取数量不能为负数")
    return min(wanted, population)


def select(candidates, rules, seed_hex: str) -> tuple[list[StratumOutcome], list[Selected]]:
    """The n smallest keys in each stratum; the drawn list ordered by key."""
    uscc_seen = set()
    by_stratum: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        if c.uscc in uscc_seen:
            raise DrawError(f"候选名单中 {c.uscc} 重复出现")
        uscc_seen.add(c.uscc)
        by_stratum[c.stratum].append(c)
    rule_by_stratum = {}
    for r in rules:
        if r.stratum in rule_by_stratum:
            raise DrawError(f"分层 {r.stratum} 的抽取规则重复")
        rule_by_stratum[r.stratum] = r
    keyed_hmac = _keyer(seed_hex)
    outcomes, selected = [], []
    for stratum in sorted(set(by_stratum) | set(rule_by_stratum)):
        members = by_stratum.get(stratum, [])
        rule = rule_by_stratum.get(stratum)
        n = stratum_size(len(members), rule)
        if n:
            # Keys are distinct 256-bit values, so ties cannot occur; USCC breaks them anyway.
            smallest = heapq.nsmallest(n, ((keyed_hmac(c.uscc), c.uscc) for c in members))
            selected.extend(Selected(uscc, stratum, key) for key, uscc in smallest)
        outcomes.append(StratumOutcome(stratum, len(members), n, rule.ratio if rule else None,
                                       rule.count if rule else None))
    selected.sort(key=lambda s: s.key)
    return outcomes, selected


def _lowest_ranked(pool, need, load, key_of) -> list[str]:
    """The first `need` of `pool` sorted by (load, key), computing keys only for the load levels used.

    Same result as sorted(pool, key=lambda lic: (load[lic], key_of(lic)))[:need], much cheaper
    when many inspectors are eligible (keys are distinct, so ties never reach the licence).
    """
    if need <= 0:
        return []
    levels: dict[int, list[str]] = defaultdict(list)
    for lic in pool:
        levels[load[lic]].append(lic)
    chosen: list[str] = []
    for level in sorted(levels):
        remaining = need - len(chosen)
        group = levels[level]
        if len(group) <= remaining:
            chosen.extend(sorted(group, key=key_of))
        else:
            chosen.extend(lic for _, lic in heapq.nsmallest(remaining, ((key_of(lic), lic) for lic in group)))
        if len(chosen) >= need:
            break
    return chosen


def assign_inspectors(selected, eligible, per_target: dict[str, int], seed_hex: str) -> list[Assignment]:
    """Match inspectors to drawn entities.

    `eligible[uscc][department_code]` lists the licence numbers that may inspect
    that entity (active, specialties cover the task's items, no conflict).
    Departments are served in code order. Raises NotEnoughInspectors rather than
    returning a partial result.
    """
    load: dict[str, int] = defaultdict(int)
    keyed_hmac = _keyer(seed_hex)
    result = []
    for s in selected:
        assignment = Assignment(s.uscc)
        for dept in sorted(per_target):
            need = int(per_target[dept])
            pool = eligible.get(s.uscc, {}).get(dept, [])
            if len(pool) < need:
                raise NotEnoughInspectors(
                    f"对象 {s.uscc} 在部门 {dept} 只有 {len(pool)} 名符合条件的执法人员，需要 {need} 名；"
                    "请补充执法人员、调整专长或回避设置后重新抽取")
            if len(set(pool)) != len(pool):
                raise DrawError(f"对象 {s.uscc} 在部门 {dept} 的符合条件执法人员名单有重复")
            for lic in _lowest_ranked(pool, need, load, lambda lic: keyed_hmac(f"{s.uscc}|{lic}")):
                load[lic] += 1
                assignment.inspectors.append(lic)
        result.append(assignment)
    return result


def verify(cert: dict) -> list[str]:
    """Recompute a certificate (the JSON of /draws/<id>.json); return the differences found, first first."""
    problems = []
    if cert.get("algorithm", ALGORITHM) != ALGORITHM:
        problems.append(f"算法不符：证书为 {cert.get('algorithm')}，本程序实现 {ALGORITHM}")
        return problems
    pool = [Candidate(p["uscc"], p["stratum"]) for p in cert.get("pool", [])]
    computed_pool_hash = pool_hash(pool)
    if computed_pool_hash != cert.get("pool_hash"):
        problems.append(f"pool_hash 不符：按名单计算为 {computed_pool_hash}，证书为 {cert.get('pool_hash')}")
    nonce = cert.get("nonce")
    if not nonce:
        problems.append("证书未公开 nonce，无法验证承诺值")
        return problems
    if commitment(nonce) != cert.get("commitment"):
        problems.append(f"commitment 不符：SHA-256(nonce) 为 {commitment(nonce)}，证书为 {cert.get('commitment')}")
    seed = derive_seed(nonce, cert.get("pool_hash", ""), cert.get("public_entropy") or "")
    if seed != cert.get("seed"):
        problems.append(f"seed 不符：计算为 {seed}，证书为 {cert.get('seed')}")
    rules = [StratumRule(s["stratum"], s.get("ratio"), s.get("count")) for s in cert.get("strata", [])
             if s.get("ratio") is not None or s.get("count") is not None]
    if not rules:  # certificates that only state n: recompute selection with the stated n
        rules = [StratumRule(s["stratum"], count=s["n"]) for s in cert.get("strata", [])]
    try:
        outcomes, selected = select(pool, rules, seed)
    except DrawError as exc:
        problems.append(str(exc))
        return problems
    stated_strata = {s["stratum"]: (s.get("N"), s.get("n")) for s in cert.get("strata", [])}
    for o in outcomes:
        if o.stratum in stated_strata and stated_strata[o.stratum] != (o.population, o.drawn):
            problems.append(f"分层 {o.stratum}：计算得 N={o.population}、n={o.drawn}，证书为 "
                            f"N={stated_strata[o.stratum][0]}、n={stated_strata[o.stratum][1]}")
    stated = cert.get("selected", [])
    for i, (mine, theirs) in enumerate(zip(selected, stated), 1):
        if (mine.uscc, mine.stratum, mine.key) != (theirs.get("uscc"), theirs.get("stratum"), theirs.get("key")):
            problems.append(f"第 {i} 个抽中对象不符：计算为 {mine.uscc}（key {mine.key}），证书为 {theirs.get('uscc')}")
            return problems
    if len(selected) != len(stated):
        problems.append(f"抽中数量不符：计算为 {len(selected)}，证书为 {len(stated)}")
        return problems
    per_target = cert.get("inspectors_per_target") or {}
    if per_target and stated and all("eligible" in s for s in stated):
        eligible = {s["uscc"]: s["eligible"] for s in stated}
        try:
            assignments = assign_inspectors(selected, eligible, per_target, seed)
        except NotEnoughInspectors as exc:
            problems.append(str(exc))
            return problems
        for a, s in zip(assignments, stated):
            original = s.get("original_inspectors", s.get("inspectors"))
            if a.inspectors != original:
                problems.append(f"{a.uscc} 的执法人员匹配不符：计算为 {'、'.join(a.inspectors)}，"
                                f"证书为 {'、'.join(original or [])}")
                return problems
    return problems
