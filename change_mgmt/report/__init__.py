"""Reports over change records: DORA metrics (``sre report dora``)."""

from change_mgmt.report.dora import (
    BANDS,
    DORA_2023,
    SCHEMA,
    Band,
    BandThresholds,
    ChangeFailureRate,
    DeploymentFrequency,
    DoraReport,
    EmergencyChanges,
    Failure,
    LeadTime,
    LeadTimeSource,
    ProposalTimeOnly,
    RecordSource,
    TimeToRestore,
    compute_dora,
)
from change_mgmt.report.git_lead_time import GitLeadTimes

__all__ = [
    "BANDS",
    "DORA_2023",
    "SCHEMA",
    "Band",
    "BandThresholds",
    "ChangeFailureRate",
    "DeploymentFrequency",
    "DoraReport",
    "EmergencyChanges",
    "Failure",
    "GitLeadTimes",
    "LeadTime",
    "LeadTimeSource",
    "ProposalTimeOnly",
    "RecordSource",
    "TimeToRestore",
    "compute_dora",
]
