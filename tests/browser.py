"""Load an HTML file in headless Chromium (Debian's `chromium`) and report what the page really showed.

A probe script is put first in <head> of a copy of the page: it records console
errors and uncaught exceptions, and after `load` writes into the DOM which
sections exist and, for every <img>, whether it decoded (naturalWidth > 0).
`--dump-dom` then hands the DOM back. A second call saves a screenshot.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars"]
_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
const __consoleError = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); __consoleError(...a); };
window.addEventListener('load', () => {
  const images = [...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
                                                inline: i.src.startsWith('data:')}));
  const out = document.createElement('pre');
  out.id = '__probe';
  out.textContent = JSON.stringify({images, errors: window.__errors,
    sections: [...document.querySelectorAll('section')].map(s => s.id),
    unavailable: [...document.querySelectorAll('section > p.unavailable')].map(p => p.closest('section').id),
    external: [...document.querySelectorAll('script[src],link[href],iframe')].length,
    page_overflows: document.documentElement.scrollWidth > window.innerWidth,
    wide_blocks: [...document.querySelectorAll('pre, table')].filter(e => e.scrollWidth > e.clientWidth + 1).length});
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str:
    found = shutil.which("chromium")
    if not found:
        pytest.fail("this test needs the Chromium browser: install Debian's package "
                    "(apt-get install -y chromium; .ci/run does it in CI)")
    return found


def _run(args, tmp_dir: str) -> subprocess.CompletedProcess:
    profile = os.path.join(tmp_dir, "chromium-profile")
    os.makedirs(profile, exist_ok=True)
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                           "--v=0", *args], capture_output=True, text=True, timeout=120)


def check_page(html_path: str, tmp_dir: str, screenshot: str) -> dict:
    """The probe's findings for `html_path` (+ console errors Chromium logged); saves `screenshot`."""
    with open(html_path, encoding="utf-8") as f:
        page = f.read()
    probed = os.path.join(tmp_dir, "probed.html")
    with open(probed, "w", encoding="utf-8") as f:
        f.write(page.replace("<head>", "<head>" + _PROBE, 1))
    result = _run(["--virtual-time-budget=10000", "--dump-dom", f"file://{probed}"], tmp_dir)
    found = re.search(r'<pre id="__probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"Chromium returned no probe result: {result.stderr[-2000:]}"
    import html
    facts = json.loads(html.unescape(found.group(1)))
    facts["console_errors"] = [line for line in result.stderr.splitlines()
                               if "CONSOLE" in line and ("ERROR" in line or "Uncaught" in line)]
    shot = _run([f"--screenshot={screenshot}", "--window-size=1200,3000", f"file://{html_path}"], tmp_dir)
    assert os.path.isfile(screenshot), shot.stderr[-2000:]
    return facts
