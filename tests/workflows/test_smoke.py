from workflows import inbox, instances, tasks
from workflows.models import InstanceStatus


def test_approval_runs_to_the_ledger(db_session, deployed, people, env_for, make, dept):
    person = make.person(department=dept)
    applicant = env_for(people["applicant"])
    instance = instances.start_instance(
        applicant, "approval", "T-1", {"person_id": person.id, "reason": "入职"}, dept.id
    )
    scope = inbox.scope_of(db_session, people["approver"], applicant.today)
    page = inbox.inbox_page(db_session, scope)
    assert [t.task_name for t in page] == ["dept_review"]
    tasks.complete(env_for(people["approver"]), page[0].id, {"decision": "approve"})
    scope = inbox.scope_of(db_session, people["clerk"], applicant.today)
    page = inbox.inbox_page(db_session, scope)
    assert [t.task_name for t in page] == ["office_review"]
    tasks.complete(env_for(people["clerk"]), page[0].id, {"decision": "approve"})
    assert instance.status == InstanceStatus.COMPLETED
