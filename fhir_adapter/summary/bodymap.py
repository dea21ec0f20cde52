"""The body map: a front-view silhouette with each site of the case marked, left and right as the patient's."""

from __future__ import annotations

from ..visible import html_text as escape
from .extract import Site

CENTRE = 120  # the silhouette's midline; the patient's right is drawn at x < CENTRE (viewer's left)
GENERAL_X = 262  # the column for sites the source names only in general (bone, skin, lymph nodes)

# Region -> (name on the page, paired organ?, position on the patient's right side or on the midline).
REGIONS: dict[str, tuple[str, bool, tuple[int, int]]] = {
    "scalp": ("Scalp", True, (106, 14)),
    "skull": ("Skull", True, (100, 28)),
    "brain": ("Brain", True, (110, 40)),
    "eyelid": ("Eyelid", True, (109, 47)),
    "orbit": ("Orbit", True, (109, 55)),
    "supraclavicular-node": ("Supraclavicular lymph nodes", True, (98, 88)),
    "mediastinal-node": ("Mediastinal lymph nodes", False, (120, 112)),
    "axilla": ("Axilla", True, (76, 112)),
    "axillary-node": ("Axillary lymph nodes", True, (80, 126)),
    "lung": ("Lung", True, (102, 120)),
    "pleura": ("Pleura", True, (88, 134)),
    "chest-wall": ("Chest wall", True, (86, 150)),
    "rib": ("Rib", True, (80, 168)),
    "breast": ("Breast", True, (100, 160)),
    "spine": ("Spine", False, (120, 186)),
    "liver": ("Liver", False, (104, 184)),
    "adrenal": ("Adrenal gland", True, (108, 202)),
    "peritoneum": ("Peritoneum", False, (120, 222)),
    "ovary": ("Ovary", True, (104, 240)),
    "bone-marrow": ("Bone marrow (iliac crest)", True, (90, 248)),
    "pelvis": ("Pelvis", True, (100, 258)),
    "femur": ("Femur", True, (100, 310)),
}
GENERAL = {"bone": "Bone", "skin": "Skin", "lymph-node": "Lymph nodes"}
UNPAIRED_SIDED = {"liver", "spine", "mediastinal-node", "peritoneum"}

ROLE_NAMES = {
    "primary": "primary tumour",
    "metastasis": "metastasis",
    "refuted": "refuted diagnosis",
    "procedure": "procedure site",
    "radiotherapy": "radiotherapy site",
    "condition": "condition",
}

SILHOUETTE = """
<g class="silhouette" aria-hidden="true">
  <ellipse cx="120" cy="40" rx="25" ry="31"/>
  <rect x="108" y="68" width="24" height="18" rx="4"/>
  <path d="M68 92 Q120 80 172 92 L176 150 Q172 196 162 226 L166 262 Q120 280 74 262 L78 226 Q68 196 64 150 Z"/>
  <path d="M68 92 Q52 96 50 122 L40 200 L30 262 Q36 270 44 262 L58 204 L66 150 Z"/>
  <path d="M172 92 Q188 96 190 122 L200 200 L210 262 Q204 270 196 262 L182 204 L174 150 Z"/>
  <path d="M76 262 L82 360 L86 452 L108 452 L112 360 L118 276 Z"/>
  <path d="M164 262 L158 360 L154 452 L132 452 L128 360 L122 276 Z"/>
</g>
<g class="organs" aria-hidden="true">
  <ellipse cx="120" cy="36" rx="19" ry="16"/>
  <ellipse cx="102" cy="124" rx="14" ry="26"/>
  <ellipse cx="138" cy="124" rx="14" ry="26"/>
  <path d="M88 176 Q110 168 134 174 Q128 192 100 192 Q88 188 88 176 Z"/>
  <line x1="120" y1="90" x2="120" y2="244" stroke-dasharray="3 3"/>
  <path d="M88 246 Q120 236 152 246 L146 266 Q120 274 94 266 Z"/>
  <line x1="100" y1="280" x2="98" y2="350"/>
  <line x1="140" y1="280" x2="142" y2="350"/>
</g>
<text class="side-letter" x="14" y="30">R</text>
<text class="side-letter" x="214" y="30" text-anchor="end">L</text>
"""


def _positions(site: Site) -> list[tuple[float, float, str]]:
    """Where a site is drawn: (x, y, side) once, or twice for a bilateral site of a paired organ."""
    if site.region in GENERAL:
        return []
    name, paired, (x, y) = REGIONS[site.region]
    mirror = 2 * CENTRE - x
    if not paired:
        return [(x, y, site.side or "")]
    if site.side == "right":
        return [(x, y, "right")]
    if site.side == "left":
        return [(mirror, y, "left")]
    if site.side == "bilateral":
        return [(x, y, "right"), (mirror, y, "left")]
    return [(CENTRE, y, "")]  # side not stated: on the midline, drawn dashed


def render_body_map(sites: list[Site], evidence_of) -> str:
    """The silhouette SVG with numbered marks, and a legend naming every site (placed or not)."""
    marks: list[str] = []
    legend: list[str] = []
    used: dict[tuple[int, int], int] = {}
    general_y = 60
    unplaced: list[Site] = []
    for number, site in enumerate(sites, start=1):
        if site.region is None:
            unplaced.append(site)
            continue
        role = ROLE_NAMES.get(site.role, site.role)
        side_text = {"left": "left", "right": "right", "bilateral": "both sides", "midline": "midline"}.get(
            site.side or "", "side not stated"
        )
        if site.region in GENERAL:
            positions = [(GENERAL_X, general_y, site.side or "")]
            general_y += 26
            where = f"{GENERAL[site.region]}, no more precise site given"
        else:
            positions = _positions(site)
            paired = REGIONS[site.region][1]
            where = REGIONS[site.region][0] + (f", {side_text}" if paired or site.side else "")
        evidence = evidence_of(site.resource_id)
        tip = f"{number}. {site.label}: {role} ({where})" + (f"; {site.condition}" if site.condition else "")
        tip += "".join(f"\nEvidence: “{s}”" for s in evidence)
        for x, y, side in positions:
            key = (round(x), round(y))
            k = used.get(key, 0)
            used[key] = k + 1
            if side in ("left", "right"):
                # Marks sharing a sided spot move outwards, so none crosses to the other side.
                dx = k * 15 * (1 if side == "left" else -1)
            else:
                dx = (k + 1) // 2 * 15 * (1 if k % 2 else -1) if k else 0
            dashed = (
                " unsided"
                if site.region not in GENERAL and not side and site.region not in UNPAIRED_SIDED
                else ""
            )
            shape = (
                f'<rect x="{x + dx - 7:.0f}" y="{y - 7:.0f}" width="14" height="14" rx="2"/>'
                if site.role in ("procedure", "radiotherapy")
                else f'<circle cx="{x + dx:.0f}" cy="{y:.0f}" r="8"/>'
            )
            marks.append(
                f'<g class="site role-{escape(site.role)}{dashed}" data-site="{escape(site.region)}"'
                f' data-side="{escape(side)}" data-label="{escape(site.label)}"'
                f' data-resource="{escape(site.resource_id)}"><title>{escape(tip)}</title>{shape}'
                f'<text x="{x + dx:.0f}" y="{y + 4:.0f}" text-anchor="middle">{number}</text></g>'
            )
        legend.append(
            f'<li value="{number}" class="role-{escape(site.role)}" data-resource="{escape(site.resource_id)}"'
            f' data-site="{escape(site.region)}"><span class="swatch" aria-hidden="true"></span>'
            f"<strong>{escape(site.label)}</strong> — {escape(role)}; {escape(where)}"
            + (f'<span class="what">{escape(site.condition)}</span>' if site.condition else "")
            + "".join(f'<q class="evidence">{escape(s)}</q>' for s in evidence)
            + "</li>"
        )
    if not sites:
        return '<p class="empty">The bundle names no body sites.</p>'
    general = ""
    if general_y > 60:
        general = (
            f'<rect class="general-box" x="{GENERAL_X - 26}" y="36" width="52" height="{general_y - 44}" rx="4"/>'
            f'<text class="general-title" x="{GENERAL_X}" y="30" text-anchor="middle">general</text>'
        )
    placed = [s for s in sites if s.region is not None]
    desc = "Marked: " + "; ".join(
        f"{s.label} ({ROLE_NAMES.get(s.role, s.role)}, {s.side or 'side not stated'})" for s in placed
    )
    if unplaced:
        desc += ". Not placed on the map: " + "; ".join(s.label for s in unplaced)
    svg = (
        '<svg class="body-map" viewBox="0 0 300 470" width="300" height="470" role="img"'
        ' aria-labelledby="bodymap-title bodymap-desc">'
        '<title id="bodymap-title">Body map, front view: the patient\'s right is on the left of the picture</title>'
        f'<desc id="bodymap-desc">{escape(desc)}</desc>{SILHOUETTE}{general}{"".join(marks)}</svg>'
    )
    rest = ""
    if unplaced:
        rest = (
            '<p class="unplaced">Not placed on the map (no region of the map matches the site):</p><ul class="unplaced">'
            + "".join(
                f'<li data-resource="{escape(s.resource_id)}">{escape(s.label)} — {escape(ROLE_NAMES.get(s.role, s.role))}</li>'
                for s in unplaced
            )
            + "</ul>"
        )
    return (
        '<div class="map-grid"><figure>' + svg + "<figcaption>Front view in the anatomical convention: the"
        " patient's left is on the viewer's right (marked L). A dashed ring marks a site whose side the source"
        " does not state; it is drawn on the midline.</figcaption></figure>"
        '<div><ol class="site-legend">' + "".join(legend) + "</ol>" + rest + "</div></div>"
    )
