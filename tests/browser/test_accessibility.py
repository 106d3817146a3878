"""Accessibility of the portal's pages as rendered by Chromium at 1280x800: WCAG 2.1 text
contrast (1.4.3) measured on the computed colours, and an accessible name for every visible
form control (1.3.1, 4.1.2).

The contrast check composites what the browser paints: the text colour (with its alpha and
the opacity of the element and its ancestors) over the first opaque background found walking
up the ancestors, semi-transparent backgrounds on the way blended in, white below all.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from services.agreements.models.vocabulary import Role
from tests.fixtures.cases import OfficeCase, seed_office_case
from tests.fixtures.platform import Platform
from tests.fixtures.staff import make_user

from .conftest import ARTIFACTS
from .test_counsellor_journey import log_in

pytestmark = pytest.mark.browser

#: WCAG 2.1 AA, success criterion 1.4.3.
NORMAL_TEXT_MINIMUM = 4.5
LARGE_TEXT_MINIMUM = 3.0

#: Every element that paints text of its own (a non-blank text node child, a form control's
#: value or placeholder), with its contrast against what is behind it. Runs in the page.
MEASURE_CONTRAST = """() => {
  const parse = (value) => {
    const match = /^rgba?\\((.*)\\)$/.exec(value.trim());
    if (!match) return null;
    const parts = match[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  };
  const over = (top, bottom) =>
    [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  const luminance = (c) =>
    0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const contrast = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  const hex = (c) =>
    '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  const describe = (el) => {
    const parts = [];
    for (let node = el; node && node !== document.body && parts.length < 4;
         node = node.parentElement) {
      let part = node.tagName.toLowerCase();
      if (node.id) { parts.unshift(part + '#' + node.id); break; }
      if (node.classList.length) part += '.' + [...node.classList].join('.');
      parts.unshift(part);
    }
    return parts.join(' > ');
  };
  // What is painted behind el (opaque), and the opacity el's text is painted with.
  const behind = (el) => {
    const layers = [];
    let opacity = 1;
    let image = null;
    for (let node = el; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      opacity *= Number(style.opacity);
      if (style.backgroundImage !== 'none' && !image) image = describe(node);
      const colour = parse(style.backgroundColor);
      if (colour && colour[3] > 0 && layers.every((l) => l[3] < 1)) layers.push(colour);
    }
    let background = [255, 255, 255, 1];
    for (const layer of layers.reverse()) background = over(layer, background);
    return { background, opacity, image };
  };
  const ownText = (el) => {
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName)) {
      if (el.tagName === 'SELECT') return [el.selectedOptions[0]?.text || '', null];
      const textless = ['checkbox', 'radio', 'hidden', 'range', 'color', 'file', 'image'];
      if (textless.includes(el.type)) return ['', null];
      if (el.value) return [el.value, null];
      if (el.placeholder) return [el.placeholder, '::placeholder'];
      if (el.type === 'date') return ['tt.mm.jjjj', null];
      return ['', null];
    }
    return [[...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent).join(' ').trim(), null];
  };
  const skipped = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'OPTION', 'OPTGROUP', 'svg']);
  const results = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (skipped.has(el.tagName) || el.matches(':disabled')) continue;
    const [text, pseudo] = ownText(el);
    if (!text) continue;
    if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;  // visually hidden, for screen readers
    const style = getComputedStyle(el, pseudo);
    const { background, opacity, image } = behind(el);
    const colour = parse(style.color);
    const painted = over([colour[0], colour[1], colour[2], colour[3] * opacity], background);
    const size = parseFloat(style.fontSize);
    const bold = Number(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    results.push({
      selector: describe(el) + (pseudo || ''),
      text: text.replace(/\\s+/g, ' ').slice(0, 50),
      colour: hex(painted),
      background: hex(background),
      ratio: Math.round(contrast(painted, background) * 100) / 100,
      large,
      font: `${size}px/${style.fontWeight}`,
      backgroundImage: image,
    });
  }
  return results;
}"""

#: Visible form controls without an accessible name from label[for] (or a wrapping label),
#: aria-label or aria-labelledby.
UNLABELLED_CONTROLS = """() => {
  const named = (el) => {
    if ([...(el.labels || [])].some((label) => label.textContent.trim())) return true;
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    if (ids.some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
    return ['submit', 'button', 'reset'].includes(el.type) && Boolean(el.value.trim());
  };
  return [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && el.checkVisibility({ visibilityProperty: true }))
    .filter((el) => !named(el))
    .map((el) => `${el.tagName.toLowerCase()} name=${el.name} id=${el.id}`);
}"""


@dataclass
class Findings:
    """Per page: the lowest contrast measured, the texts below the minimum, unnamed controls."""

    lowest: dict[str, dict[str, Any]]
    too_low: list[str]
    unlabelled: list[str]

    def inspect(self, page: Any, name: str) -> None:
        page.wait_for_load_state()
        measured = page.evaluate(MEASURE_CONTRAST)
        assert measured, f"{name}: no text measured"
        self.lowest[name] = min(measured, key=lambda m: m["ratio"])
        for m in measured:
            minimum = LARGE_TEXT_MINIMUM if m["large"] else NORMAL_TEXT_MINIMUM
            where = f"{name}: {m['selector']} {m['text']!r}: {m['colour']} on {m['background']}"
            if m["ratio"] < minimum:
                self.too_low.append(f"{where} = {m['ratio']} < {minimum} ({m['font']})")
            elif m["backgroundImage"]:  # a gradient or picture: the colours say nothing
                self.too_low.append(f"{where}: background image on {m['backgroundImage']}")
        self.unlabelled += [f"{name}: {c}" for c in page.evaluate(UNLABELLED_CONTROLS)]


@pytest.fixture(scope="module")
def findings() -> Iterator[Findings]:
    """Collected over the module; the lowest ratio per page is kept in test-artifacts/."""
    collected = Findings({}, [], [])
    yield collected
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "contrast.json").write_text(
        json.dumps(collected.lowest, indent=2, ensure_ascii=False) + "\n"
    )


def assert_accessible(found: Findings) -> None:
    assert not found.too_low, "text below the WCAG 2.1 contrast minimum:\n" + "\n".join(
        found.too_low
    )
    assert not found.unlabelled, "form controls without an accessible name:\n" + "\n".join(
        found.unlabelled
    )


@pytest.fixture(scope="module")
def case(sqlite_platform: Platform) -> OfficeCase:
    """A case with a badge of every colour: an active agreement, a requested referral and a
    withdrawn one."""
    api = sqlite_platform.api("freiburg")
    seeded = seed_office_case(api)
    agreement = api.ok("GET", f"agreements/{seeded.agreement_id}")
    withdrawn = api.ok(
        "POST",
        "referrals",
        {
            "client_id": seeded.client_id,
            "recipient_kind": "jobcenter",
            "purpose": "language",
            "consent_id": seeded.consent_id,
            "step_id": agreement["goals"][0]["steps"][0]["id"],
        },
        201,
    )
    api.ok("POST", f"referrals/{withdrawn['id']}/withdraw", {"reason": "erledigt"})
    return seeded


def test_counsellor_pages(
    sqlite_platform: Platform, live_url: str, page: Any, case: OfficeCase, findings: Findings
) -> None:
    found = Findings({}, [], [])
    user = make_user(sqlite_platform, "freiburg")
    log_in(page, live_url, user)
    client, agreement = f"/clients/{case.client_id}", f"/agreements/{case.agreement_id}"
    pages = {
        "dashboard": "/",
        "client list": f"/clients?q={case.family_name}",
        "new client": "/clients/new",
        "client edit": f"{client}/edit",
        "client page": client,
        "consent form": f"{client}/consents/new",
        "assessment form": f"{client}/assessments/new",
        "agreement editor": f"{client}/agreements/new",
        "agreement": agreement,
        "review": f"{agreement}/review",
        "close": f"{agreement}/close",
        "referral form": f"{agreement}/steps/{case.step_id}/referral",
        "not found": f"/clients/{uuid.uuid4()}",
    }
    for name, path in pages.items():
        page.goto(f"{live_url}/t/freiburg{path}")
        found.inspect(page, name)
    page.goto(f"{live_url}/t/freiburg/clients/new")
    page.get_by_role("button", name="Anlegen").click()  # nothing filled in: errors shown
    expect(page.locator(".error-summary")).to_be_visible()
    found.inspect(page, "new client with errors")
    page.goto(f"{live_url}/t/freiburg/clients")
    page.get_by_role("link", name="English").click()
    found.inspect(page, "client list, English")
    findings.lowest.update(found.lowest)
    assert_accessible(found)


def test_admin_pages(
    sqlite_platform: Platform, live_url: str, page: Any, findings: Findings
) -> None:
    found = Findings({}, [], [])
    log_in(
        page, live_url, make_user(sqlite_platform, "freiburg", Role.TENANT_ADMIN), "/admin/users"
    )
    found.inspect(page, "admin users")
    page.goto(f"{live_url}/t/freiburg/admin/offices")
    found.inspect(page, "admin offices")
    findings.lowest.update(found.lowest)
    assert_accessible(found)


def test_login_and_logout_pages(
    sqlite_platform: Platform, live_url: str, page: Any, findings: Findings
) -> None:
    found = Findings({}, [], [])
    page.goto(f"{live_url}/t/freiburg/")
    found.inspect(page, "login")
    page.get_by_label("Benutzername").fill("nobody")
    page.get_by_label("Passwort").fill("wrong")
    page.get_by_label("Passwort").press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()
    found.inspect(page, "login refused")
    log_in(page, live_url, make_user(sqlite_platform, "freiburg"))
    page.get_by_role("button", name="Abmelden").click()
    found.inspect(page, "logged out")
    findings.lowest.update(found.lowest)
    assert_accessible(found)


def relative_luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of ``#rrggbb``, in Python to check the page script."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_measurement_is_calibrated(page: Any) -> None:
    """The page script against known colours, so a pass above means the portal passes and
    not that the script measured nothing or measured wrong."""
    page.set_content(
        """<body style="margin:0; font: 16px sans-serif">
        <p id="just-enough" style="color:#767676">4.54:1 on white</p>
        <p id="too-light" style="color:#777777">4.48:1 on white</p>
        <p id="large" style="color:#949494; font-size:24px">large text needs 3:1</p>
        <p id="not-large" style="color:#949494; font-size:23px">just below large</p>
        <p id="large-bold" style="color:#949494; font-size:14pt; font-weight:bold">bold 14pt</p>
        <p id="faded" style="opacity:.5">black at half opacity</p>
        <div style="background:#0b4f8a"><div style="background:rgba(255,255,255,.5)">
          <p id="layered" style="color:#000">over a half-white veil on blue</p></div></div>
        <p id="hidden" style="position:absolute; width:1px; height:1px; overflow:hidden;
           clip:rect(0 0 0 0); color:#eee">for screen readers only</p>
        <input id="hint" placeholder="Suche" aria-label="Suche">
        </body>"""
    )
    measured = {m["selector"]: m for m in page.evaluate(MEASURE_CONTRAST)}
    assert measured["p#just-enough"]["ratio"] == round(contrast_ratio("#767676", "#ffffff"), 2)
    assert measured["p#too-light"]["ratio"] == round(contrast_ratio("#777777", "#ffffff"), 2)
    assert measured["p#large"]["large"] and measured["p#large-bold"]["large"]
    assert not measured["p#not-large"]["large"]
    assert measured["p#faded"]["colour"] in ("#7f7f7f", "#808080")
    veil = measured["p#layered"]["background"]
    assert veil == "#85a7c5", veil  # (0b4f8a + ffffff) / 2
    assert measured["p#layered"]["ratio"] == round(contrast_ratio("#000000", veil), 2)
    assert "p#hidden" not in measured
    placeholder = measured["input#hint::placeholder"]
    assert placeholder["text"] == "Suche"

    found = Findings({}, [], [])
    found.inspect(page, "calibration")
    offenders = {line.split(" ")[1] for line in found.too_low}
    assert offenders == {"p#too-light", "p#not-large", "p#faded"}, found.too_low
    assert "#777777 on #ffffff = 4.48 < 4.5" in "\n".join(found.too_low)
