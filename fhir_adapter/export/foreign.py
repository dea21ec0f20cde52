"""Resources other tools wrote: read into the case as far as the case model lets them go."""

from __future__ import annotations

from .common import Json, ReadContext


def read_foreign(ctx: ReadContext, data: Json, resources: list[Json], patient: Json) -> None:
    for resource in resources:
        ctx.not_placed(resource, "", "not read")
