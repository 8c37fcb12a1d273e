"""An independent implementation of SPEC §5 (draw-v1), written from the spec alone.

It deliberately shares no code with portal.domain.draw: tests recompute the
portal's certificates with it and compare byte for byte.
"""
import hashlib
import hmac
import math
from fractions import Fraction


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hmac_hex(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def recompute(cert: dict) -> dict:
    """Everything a certificate claims, recomputed from its inputs (pool, nonce, entropy, rules, eligible)."""
    lines = sorted(f"{p['uscc']}\t{p['stratum']}\n" for p in cert["pool"])
    pool_hash = sha256_hex("".join(lines))
    commitment = sha256_hex(cert["nonce"])
    seed = hmac_hex(cert["nonce"], pool_hash + "|" + cert["public_entropy"])
    strata = []
    drawn = []
    for rule in cert["strata"]:
        members = [p["uscc"] for p in cert["pool"] if p["stratum"] == rule["stratum"]]
        if rule.get("count") is not None:
            n = min(int(rule["count"]), len(members))
        elif rule.get("ratio") is not None:
            n = min(math.ceil(len(members) * Fraction(rule["ratio"])), len(members))
        else:
            n = 0
        strata.append({"stratum": rule["stratum"], "N": len(members), "n": n})
        keys = sorted((hmac_hex(seed, u), u) for u in members)
        drawn.extend({"uscc": u, "stratum": rule["stratum"], "key": k} for k, u in keys[:n])
    drawn.sort(key=lambda d: d["key"])
    load = {}
    for d in drawn:
        chosen = []
        stated = next(s for s in cert["selected"] if s["uscc"] == d["uscc"])
        for dept in sorted(cert["inspectors_per_target"]):
            need = cert["inspectors_per_target"][dept]
            pool = stated["eligible"][dept]
            assert len(pool) >= need, "not enough inspectors"
            ranked = sorted(pool, key=lambda lic: (load.get(lic, 0), hmac_hex(seed, d["uscc"] + "|" + lic)))
            for lic in ranked[:need]:
                load[lic] = load.get(lic, 0) + 1
                chosen.append(lic)
        d["inspectors"] = chosen
    return {"pool_hash": pool_hash, "commitment": commitment, "seed": seed, "strata": strata, "selected": drawn}
