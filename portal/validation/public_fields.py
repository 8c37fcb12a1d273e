"""Which free-text fields a public channel shows, per record kind (SPEC §6).

Each is stored masked (ID-card numbers, mobile numbers … replaced, see domain/masking.py)
whatever path writes it: the record validators (results, penalties, entities), the back-office
forms of plans, tasks and items, the lifecycle actions (correction and withdrawal reasons) and
the draw (witnesses, the public random number, redraw and substitution reasons). The public
shape masks again when rendering, as a second net.
"""

PUBLIC_TEXT = {
    "result": ("remark", "verification_method", "findings"),
    "penalty": ("party_name", "violation_type", "facts", "legal_basis", "authority"),
    "entity": ("name", "tags", "address", "legal_representative", "operator_name"),
    "plan": ("title", "description"),
    "task": ("title", "description"),
    "item": ("name", "legal_basis", "target_type", "content", "ratio_frequency", "inspector_requirements",
             "change_note"),
    "draw": ("reason", "public_entropy", "witness_name", "witness_org", "substitution_reason"),
    "lifecycle": ("correction_reason", "withdrawal_reason"),
}
