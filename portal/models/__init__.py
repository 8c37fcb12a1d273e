"""All tables, one module per aggregate. Import models from here."""
from .accounts import Role, SigninBackoff, SigninEvent, SigninOutcome, User
from .audit import AuditEvent
from .base import Publishable, Status
from .catalogue import CheckItem, CheckItemVersion, VocabularyKind, VocabularyTerm
from .directory import (RISK_LABELS, Department, Entity, EntityType, EntityVersion, Inspector, InspectorConflict, Level,
                        RegistrationStatus, RiskClass, inspector_specialty)
from .draws import Draw, DrawAssignment, DrawPoolEntry, DrawSelection, DrawStratum, DrawSubstitution, DrawWitness
from .plans import Plan, Task, plan_department, task_check_item, task_department
from .records import Penalty, PenaltyCategory, RecordVersion, Result, ResultConclusion, ResultFinding, result_inspector
from .objections import (CaseKind, CaseStatus, Objection, ObjectionAttachment, OPEN_STATUSES, Outcome,
                         Relation)
from .revision import PublicMoment, PublicRevision
from .system import CalendarOverride, DeadlineRule, ImportBatch, SearchChange, Setting, UploadJob

__all__ = [name for name in dir() if not name.startswith("_")]
