"""The one set of probes the live pipeline runs, and their hooks on one model.

A probe (feature maps of a layer, the RPN's anchors and proposals, YOLO's grid ...) follows the protocol in
explorer.core.engine: `attach(model)` puts forward hooks on the modules it needs, `collect(ctx)` reads what
they caught after the forward pass, `detach()` takes the hooks off. Views change the wanted set from any
thread (`ProbeSet.add` / `remove`); the pipeline thread brings the hooks of its model in line at the start
of each frame (`AttachedProbes.sync`), so hooks never change during a forward pass, and there is one place
that says which probes exist: hooks only on the layers some view shows.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from explorer.core.engine import Probe


class ProbeSet:
    """The wanted probes by name; `version` grows with every change (the pipeline syncs when it moved)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._probes: dict[str, "Probe"] = {}
        self.version = 0

    def add(self, probe: "Probe") -> None:
        """Want `probe` (replacing one of the same name)."""
        with self._lock:
            self._probes[probe.name] = probe
            self.version += 1

    def remove(self, name: str) -> bool:
        """Stop wanting the probe called `name`; True when there was one."""
        with self._lock:
            found = self._probes.pop(name, None) is not None
            if found:
                self.version += 1
            return found

    def get(self, name: str) -> "Probe | None":
        with self._lock:
            return self._probes.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._probes)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._probes

    def snapshot(self) -> tuple[int, dict[str, "Probe"]]:
        with self._lock:
            return self.version, dict(self._probes)


class AttachedProbes:
    """The probes whose hooks are on one model now (used by the pipeline thread only)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._attached: dict[str, "Probe"] = {}
        self._version = -1

    def sync(self, wanted: ProbeSet) -> list["Probe"]:
        """Attach what is wanted and not attached, detach the rest; returns the probes to collect."""
        if wanted.version == self._version:  # every frame asks; the set rarely changes: no lock, no copy
            return list(self._attached.values())
        version, probes = wanted.snapshot()
        if version != self._version:
            for name, probe in list(self._attached.items()):
                if probes.get(name) is not probe:
                    probe.detach()
                    del self._attached[name]
            for name, probe in probes.items():
                if name not in self._attached:
                    probe.attach(self.model)
                    self._attached[name] = probe
            self._version = version
        return list(self._attached.values())

    @property
    def names(self) -> list[str]:
        return list(self._attached)

    def close(self) -> None:
        for probe in self._attached.values():
            probe.detach()
        self._attached.clear()
        self._version = -1
