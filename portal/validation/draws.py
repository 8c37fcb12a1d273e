"""The free text a draw publishes on its certificate: witnesses and the public random number.

Masked before the draw uses it (the seed is derived from the stored, masked public random
number, so anyone can still recompute the draw from its certificate).
"""
from __future__ import annotations

from .core import Checked, Problem, public_text

ENTROPY_MAX = 500


def witnessing(public_entropy, witnesses) -> Checked:
    """`witnesses`: names or (name, organisation) pairs. values: public_entropy, witnesses [(name, org)]."""
    checked = Checked()
    entropy = (public_entropy or "").strip()
    if not entropy:
        checked.problems.append(Problem("public_entropy", "请由见证人输入公开随机数（如当日福利彩票开奖号码）"))
    elif len(entropy) > ENTROPY_MAX:
        checked.problems.append(Problem("public_entropy", f"公开随机数过长（不超过 {ENTROPY_MAX} 个字符）"))
    else:
        entropy = public_text(entropy, "public_entropy", checked)
    people = []
    for w in witnesses or []:
        name, org = (w, None) if isinstance(w, str) else (w[0], w[1] if len(w) > 1 else None)
        name, org = (name or "").strip(), (org or "").strip() or None
        if name:
            people.append((public_text(name[:50], "witness_name", checked),
                           public_text(org[:100], "witness_org", checked) if org else None))
    if not people:
        checked.problems.append(Problem("witness_name", "请至少登记一名见证人姓名"))
    checked.values = {"public_entropy": entropy, "witnesses": people}
    return checked
