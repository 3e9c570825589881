"""Departments and people as the card system knows them."""

from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.base import Base
from ledger.models.enums import enum_column


class DepartmentKind(StrEnum):
    OFFICE = "office"  # administrative office (IT centre, finance, HR ...)
    COLLEGE = "college"
    UNIT = "unit"  # other university units (canteens, library, hospital ...)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[DepartmentKind] = enum_column(DepartmentKind)

    def __repr__(self) -> str:
        return f"<Department {self.code}>"


class PersonCategory(StrEnum):
    """Who a person is to the university; R01 derives the card type from it."""

    FACULTY = "faculty"
    POSTDOC = "postdoc"
    RETIREE = "retiree"
    AGENCY_STAFF = "agency_staff"
    EXTERNAL_EXPERT = "external_expert"
    EMPLOYEE = "employee"
    UNDERGRADUATE = "undergraduate"
    POSTGRADUATE = "postgraduate"
    INTERNATIONAL_STUDENT = "international_student"
    OTHER = "other"  # temporary hires and short-term visitors


class IdType(StrEnum):
    RESIDENT_ID = "resident_id"
    PASSPORT = "passport"
    OTHER = "other"


class NetworkStatus(StrEnum):
    UNREGISTERED = "unregistered"
    ACTIVE = "active"
    SUSPENDED = "suspended"


def mask_id_number(number: str) -> str:
    """An ID number with at most a quarter of its characters shown at each end (four at
    most) and the rest as '*': 1101**********3015, a passport E1*****78."""
    keep = min(4, len(number) // 4)
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[len(number) - keep :]


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("id_type", "id_number", name="uq_people_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    id_type: Mapped[IdType] = enum_column(IdType)
    id_number: Mapped[str] = mapped_column(String(40))
    category: Mapped[PersonCategory] = enum_column(PersonCategory)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(30))
    network_status: Mapped[NetworkStatus] = enum_column(
        NetworkStatus, default=NetworkStatus.UNREGISTERED
    )

    department: Mapped[Department] = relationship()

    @property
    def masked_id(self) -> str:
        """The ID number as it may be shown on screens and paper."""
        return mask_id_number(self.id_number)

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.name}>"
