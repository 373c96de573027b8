"""Gate results as JUnit XML, the format every CI system shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from opsledger.model.gates import GateResult


def gates_junit(suite: str, gates: Sequence[GateResult], now: datetime) -> str:
    """Return a JUnit XML document with one test case per gate."""
    failures = [g for g in gates if not g.passed]
    # A waived gate did not pass: it is skipped, with who waived it, until when and why.
    waived = [g for g in gates if g.passed and g.waiver is not None]
    root = ET.Element("testsuites", name="opsledger", tests=str(len(gates)),
                      failures=str(len(failures)), skipped=str(len(waived)))
    element = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(gates)), failures=str(len(failures)),
        errors="0", skipped=str(len(waived)), timestamp=now.isoformat(),
    )
    for gate in gates:
        case = ET.SubElement(element, "testcase", classname=suite, name=f"{gate.id}: {gate.title}")
        properties = ET.SubElement(case, "properties")
        for key in ("criteria", "threshold", "evidence", "actual"):
            ET.SubElement(properties, "property", name=key, value=str(getattr(gate, key)))
        if not gate.passed:
            failure = ET.SubElement(case, "failure", message=gate.actual, type="GateFailed")
            failure.text = "\n".join([*gate.failures, f"remedy: {gate.remedy}" if gate.remedy
                                      else ""]).strip()
        elif gate.waiver is not None:
            reason = (
                f"waived by {gate.waiver.get('approver')} ({gate.waiver.get('role')}) until "
                f"{gate.waiver.get('expires')}: {gate.waiver.get('justification')}"
            )
            ET.SubElement(case, "skipped", message=reason)
            out = ET.SubElement(case, "system-out")
            out.text = reason
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
