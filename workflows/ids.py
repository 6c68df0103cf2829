"""Workflow ids: one per contract term, so starting the same term twice is a no-op."""


def renewal_workflow_id(contract_id: str, term: int) -> str:
    return f"renewal/{contract_id}/term-{term}"
