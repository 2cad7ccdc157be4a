"""T006: the address a zone (cell, VM) faulted on belongs to another zone.

The faulting zone is named by the log (hvisor "Zone 1 unhandled mmio fault", Jailhouse "Parking CPU 2
(Cell: "non-root")"); the layout (any format the loader registry reads: zones = cells, regions with labels)
says who owns the address. When the faulting zone maps nothing there and another zone's region covers it,
the diagnosis is the one a maintainer gives: "that UART is assigned to the root cell, not to this one" —
the guest was told about a device (or memory) of another partition (its device tree, its config).

Addresses are compared as the faulting zone sees them (guest-physical) against the other zones' physical
ranges. For passthrough devices guest and physical addresses are the same; when the owning region is not
identity-mapped the finding says the comparison assumed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hvcheck.findings import Finding, Severity, declare_rule
from hvcheck.layout.model import Region, System, Zone
from hvcheck.triage.facts import Address, Fault

declare_rule("T006", "a fault address belongs to another zone (cell) than the one that faulted", Severity.ERROR,
             "triage")


@dataclass(frozen=True)
class ForeignOwner:
    zone: Zone
    region: Region
    identity: bool           # the owning region maps guest = physical (passthrough)

    def describe(self) -> str:
        label = f" '{self.region.label}'" if self.region.label else ""
        return (f"{self.region.kind.value} region{label} [{self.region.start:#x}, {self.region.end:#x}) of zone "
                f"{self.zone.name}")


def faulting_zone(system: System, fault: Fault) -> Zone | None:
    """The zone the log names: by id (hvisor) or by name (Jailhouse cell), case-insensitively."""
    if fault.zone_id is not None:
        for zone in system.zones:
            if zone.zone_id == fault.zone_id:
                return zone
        if fault.zone_id == 0:
            return system.root
    name = fault.facts.get("cell") or fault.facts.get("zone")
    if isinstance(name, str):
        wanted = name.strip().lower()
        for zone in system.zones:
            if zone.name.lower() == wanted:
                return zone
    return None


def maps(zone: Zone, gpa: int) -> Region | None:
    return next((r for r in zone.regions if r.kind.is_mapped and r.gstart <= gpa < r.gend), None)


def foreign_owners(system: System, zone: Zone, gpa: int) -> list[ForeignOwner]:
    out = []
    for other in system.zones:
        if other is zone:
            continue
        for r in other.regions:
            if r.start <= gpa < r.end:
                out.append(ForeignOwner(other, r, r.gstart == r.start))
    return sorted(out, key=lambda o: o.region.end - o.region.start)


def t006(fault: Fault, addr: Address, system: System, base: dict[str, object], where: str) -> Finding | None:
    zone = faulting_zone(system, fault)
    if zone is None or addr.space != "GPA" or maps(zone, addr.value) is not None:
        return None
    owners = foreign_owners(system, zone, addr.value)
    if not owners:
        return None
    best = owners[0]
    confidence = "established" if best.identity else "probable"
    what = "write" if fault.facts.get("is_write") else "read" if "is_write" in fault.facts else "access"
    message = (f"[{confidence}] {addr.what} {addr.value:#x}{where} belongs to the {best.describe()}, not to the "
               f"faulting zone {zone.name}, which maps nothing there: zone {zone.name} was told about another "
               f"zone's {'device' if best.region.kind.value == 'io' else 'memory'} (its device tree or config), "
               f"and the {what} was refused")
    if not best.identity:
        message += (f"; compared assuming {zone.name}'s guest-physical address equals the physical address "
                    f"(the owning region is mapped at guest {best.region.gstart:#x})")
    data = dict(base)
    data.update(confidence=confidence, fault_address=addr.value, faulting_zone=zone.name, owner_zone=best.zone.name,
                owner_region=best.region.label or best.region.kind.value, owner_start=best.region.start,
                owner_end=best.region.end, other_owners=[o.describe() for o in owners[1:4]])
    locations = fault.locations() + [best.region.source]
    return Finding("T006", message, locations=locations, data=data,
                   fix=f"remove the device/memory from zone {zone.name}'s device tree (or give zone {zone.name} "
                       f"its own region for it and take it from {best.zone.name})")
