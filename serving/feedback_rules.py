"""The data contract's rules applied to feedback at the door.

Feedback becomes rows of the data folder's ``visits`` and ``trainings`` tables (``feedback
export``), so a post that those tables would refuse is refused here, with a 422 naming the
rule: a date before the manager's ``hired_on`` or after today, a course not in
``courses``, a decision for a week that cannot be planned. Who may name which manager and
retailer is ``serving.access``'s job.
"""

from __future__ import annotations

import datetime as dt

from serving.access import unprocessable
from serving.limits import safe_text
from serving.served_territory import ServedTerritory


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def check_day(territory: ServedTerritory, manager_id: str, day: dt.date, field: str) -> None:
    """Not before the manager's hire (the contract's rule) and not in the future."""
    hired = territory.hired_on(manager_id)
    if hired is not None and day < hired:
        raise unprocessable(
            f"{field} {day} is before manager {manager_id}'s hired_on {hired} "
            "(rule: not before its hired_on in managers)",
            field,
        )
    if day > today():
        raise unprocessable(
            f"{field} {day} is after today ({today()}): report what happened", field
        )


def check_course(territory: ServedTerritory, course_id: str) -> None:
    known = territory.course_ids()
    if known is not None and course_id not in known:
        raise unprocessable(
            f"course_id {safe_text(course_id, 64)!r} is not a course_id in courses", "course_id"
        )


def check_week(territory: ServedTerritory, week: str) -> None:
    first, last = territory.plannable_weeks()
    if not first <= week <= last:
        raise unprocessable(
            f"week {week} is outside the weeks that can be planned ({first} to {last})", "week"
        )
