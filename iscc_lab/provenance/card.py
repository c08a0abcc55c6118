"""A recovered manifest as a person reads it: who signed, when, which actions, the ISCC.

`manifest_facts()` picks these from c2pa-python's manifest store JSON; `manifest_card()` renders
them as a small HTML card for notebooks (escaped: manifests are other people's text).
"""

from html import escape

__all__ = ["manifest_facts", "manifest_card"]


def manifest_facts(store: dict) -> dict:
    """{manifest_id, title, signer, issuer, when, actions, iscc, units, validation_state,
    failures} of the active manifest of a manifest store (c2pa-python's JSON)."""
    manifest_id = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(manifest_id) or {}
    assertions = {a.get("label"): a.get("data") or {} for a in manifest.get("assertions") or []}
    actions = []
    for label in ("c2pa.actions.v2", "c2pa.actions"):
        actions += (assertions.get(label) or {}).get("actions") or []
    sig = manifest.get("signature_info") or {}
    whens = [a["when"] for a in actions if a.get("when")]
    code = assertions.get("io.iscc.code") or {}
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    return {
        "manifest_id": manifest_id,
        "title": manifest.get("title"),
        "signer": sig.get("common_name"),
        "issuer": sig.get("issuer"),
        "when": sig.get("time") or (whens[-1] if whens else None),
        "actions": [a.get("action") for a in actions if a.get("action")],
        "iscc": code.get("iscc"),
        "units": code.get("units") or [],
        "soft_binding": (assertions.get("c2pa.soft-binding") or {}).get("alg"),
        "validation_state": store.get("validation_state"),
        "failures": [f.get("code") for f in results.get("failure") or [] if f.get("code")],
    }


def manifest_card(store: dict) -> str:
    """The card's HTML."""
    f = manifest_facts(store)
    state = f["validation_state"] or "unknown"
    colour = {"Invalid": "#b00020"}.get(state, "#1b7f3b")
    rows = [
        ("Signed by", " · ".join(x for x in (f["signer"], f["issuer"]) if x) or "unknown"),
        ("When", f["when"] or "not stated"),
        ("Actions", ", ".join(a.removeprefix("c2pa.") for a in f["actions"]) or "none"),
        ("ISCC", f["iscc"] or "none recorded"),
        ("Soft binding", f["soft_binding"] or "none"),
        ("Manifest", f["manifest_id"] or ""),
        ("Validation", state + (f" ({', '.join(f['failures'])})" if f["failures"] else "")),
    ]
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{escape(k)}</th>"
        f"<td style='font-family:monospace'>{escape(str(v))}</td></tr>"
        for k, v in rows
    )
    title = escape(f["title"] or "Content Credentials")
    return (
        f"<div style='border:1px solid #ccc;border-left:6px solid {colour};border-radius:6px;"
        f"padding:0.6em 1em;max-width:48em'><div style='font-weight:bold;font-size:1.1em'>"
        f"{title}</div><table>{body}</table></div>"
    )
