"""Issues and proposals of a scenario: each issue's options (for a region, who controls the land
once it is settled, and who holds it now), and the named proposals with the answers on record.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.fields import MAX_KM2, Date, Id, Seq, Strict, Text

#: What an option's `control` may say besides an actor id: the land stays where the front line
#: puts it (`line`), a holder's part becomes a demilitarised zone held by nobody (`buffer`, with
#: `from:` that holder), or the whole region goes to an administration held by no party
#: (`international`). Any other value names the actor that gets the whole region.
CONTROL_KEYWORDS = ("line", "buffer", "international")

#: The shares a region's holders hold must sum to 1 to within this.
SHARE_TOLERANCE = 1e-9


class Option(Strict):
    """One way an issue can be settled. For territory, `control` says who holds the land.

    `control` is an actor id (the whole region to that actor), `line`, `buffer` (with `from`,
    the holder whose part becomes the zone) or `international`; `recognised` says whether the
    settlement is legally recognised (de jure) or only a fact on the ground (de facto).
    """

    meaning: Text
    control: Id | None = None
    from_: Annotated[Id | None, Field(alias="from")] = None
    recognised: bool | None = None


class Issue(Strict):
    kind: Literal["territory", "policy"]
    name: Text
    options: Annotated[dict[Id, Option | Text], Field(min_length=2)]
    default: Id
    area_km2: Annotated[float, Field(ge=0.01, le=MAX_KM2)] | None = None
    # Who holds which share of the region at meta.as_of: actor id -> share (0..1), summing to 1.
    held: dict[Id, Annotated[float, Field(ge=0, le=1)]] | None = None
    consent: Seq[Id] = ()
    source: Id | None = None
    note: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        if isinstance(data, dict) and "russia_share" in data:
            raise ValueError("russia_share is replaced by held: the share each holder holds, e.g. "
                             "held: {<actor id>: 0.75, <actor id>: 0.25} (see docs/new-conflict.md)")
        return data

    @field_validator("options", mode="after")
    @classmethod
    def _expand(cls, options: dict) -> dict:
        return {k: Option(meaning=v) if isinstance(v, str) else v for k, v in options.items()}

    @model_validator(mode="after")
    def _territory(self) -> Issue:
        if self.default not in self.options:
            raise ValueError(f"default {self.default!r} is not one of the options ({', '.join(self.options)})")
        if self.kind == "territory":
            if self.area_km2 is None or self.held is None:
                raise ValueError("a territorial issue needs area_km2 and held (who holds which share)")
        else:
            if self.area_km2 is not None or self.held is not None:
                raise ValueError("only territorial issues have area_km2 and held")
            if any(o.control is not None or o.from_ is not None for o in self.options.values()):
                raise ValueError("only territorial options have control")
        return self

    @property
    def holders(self) -> tuple[str, ...]:
        """The actors holding part of the region at meta.as_of, in the order `held` lists them."""
        return tuple(self.held or ())

    def control_of(self, option_id: str) -> tuple[str, str | None, bool]:
        """(who controls the land, the side a buffer is carved from, whether it is recognised de jure)."""
        opt = self.options[option_id]
        return opt.control or "line", opt.from_, bool(opt.recognised)


Response = Literal["accepted", "accepted_with_reservations", "rejected", "no_response", "contested"]


class RecordedResponse(Strict):
    """What a party is on record as answering to a proposal (checked by `negsim validate`)."""

    response: Response
    date: Date | None = None
    source: Id
    quote: Text | None = None
    note: Text | None = None


class Proposal(Strict):
    name: Text
    options: dict[Id, Id]
    source: Id
    quote: Text
    by: Seq[Id] = ()
    responses: dict[Id, RecordedResponse] = {}
    note: Text | None = None
