"""Check the built documentation site in a real headless browser (Chromium).

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python docs/check_site.py docs/_build/html --screenshots /tmp/site_shots

The site is served over HTTP on localhost and opened with Playwright driving the
system's Chromium (``apt install chromium``; ``--browser PATH`` for another binary).
Checks, each failure listed at the end (exit status 1 if any):

* every page renders: HTTP 200, a title and an ``<h1>``, the navigation sidebar, no
  JavaScript error, every image and every other resource it asks for loaded (a script
  from a CDN would not load here: the site must work offline);
* navigation: from the front page, the "next" link and a sidebar link each open another
  page;
* search: ``search.html?q=certificate`` lists results, the first of which opens;
* links: every internal link (``href`` to a page of the site, with its ``#anchor``) points
  to an existing page and an existing id; external links are counted, not fetched (no
  network here);
* screenshots of three pages (front page, a tutorial, an API page) written as PNG files.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

SCREENSHOT_PAGES = ("index.html", "tutorials/quickstart.html", "api/solver.html")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_browser(explicit: str | None = None) -> str | None:
    """Path of a Chromium binary: ``explicit``, else the first of ``CHROMIUM_NAMES`` on PATH."""
    if explicit:
        return explicit
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log on stderr
        pass


def serve(root: Path):
    """An HTTP server for ``root`` on a free localhost port, in a daemon thread."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def check(html_dir: Path, shots: Path, browser: str) -> list[str]:
    """All checks on the site in ``html_dir``; returns the failures (empty: all passed)."""
    from playwright.sync_api import sync_playwright

    html_dir = html_dir.resolve()
    pages = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                   if not p.relative_to(html_dir).as_posix().startswith(("_modules/", "_static/")))
    server, base = serve(html_dir)
    failures: list[str] = []
    ids: dict[str, set] = {}
    links: list[tuple[str, str]] = []
    external = 0
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=browser, args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(f"JavaScript error: {exc}"))
            page.on("requestfailed", lambda req: errors.append(
                f"resource did not load: {req.url} ({req.failure})"))
            for name in pages:
                errors.clear()
                resp = page.goto(base + name, wait_until="load")
                where = f"{name}:"
                if resp is None or resp.status != 200:
                    failures.append(f"{where} HTTP {None if resp is None else resp.status}")
                    continue
                if not page.title():
                    failures.append(f"{where} no <title>")
                if name not in ("search.html", "genindex.html", "py-modindex.html") \
                        and page.locator("h1").count() == 0:
                    failures.append(f"{where} no <h1>")
                if page.locator(".sidebar-tree a").count() == 0:
                    failures.append(f"{where} no navigation sidebar")
                broken = page.evaluate(
                    "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                    ".map(i => i.getAttribute('src'))")
                failures += [f"{where} image {src} did not load" for src in broken]
                ids[name] = set(page.evaluate(
                    "Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
                for href in page.evaluate(
                        "Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"):
                    target = urljoin(base + name, href)
                    if not target.startswith(base):
                        external += urlparse(target).scheme in ("http", "https")
                        continue
                    links.append((name, target[len(base):]))
                failures += [f"{where} {e}" for e in errors]
            failures += _check_links(links, ids, html_dir)
            failures += _check_navigation(page, base)
            failures += _check_search(page, base)
            shots.mkdir(parents=True, exist_ok=True)
            for name in SCREENSHOT_PAGES:
                page.goto(base + name, wait_until="load")
                page.screenshot(path=str(shots / (name.replace("/", "_").replace(".html", ".png"))))
            b.close()
    finally:
        server.shutdown()
    print(f"{len(pages)} pages, {len(links)} internal links, {external} external links (not "
          f"fetched), screenshots in {shots}")
    return failures


def _check_links(links, ids, html_dir: Path) -> list[str]:
    failures = []
    for source, target in links:
        path, anchor = urldefrag(target)
        path = unquote(path) or source
        if path.endswith("/"):
            path += "index.html"
        if not (html_dir / path).is_file():
            failures.append(f"{source}: broken link to {target}")
        elif anchor and path.endswith(".html") and path in ids and unquote(anchor) not in ids[path]:
            failures.append(f"{source}: link to a missing anchor {target}")
    return failures


def _check_navigation(page, base: str) -> list[str]:
    failures = []
    page.goto(base + "index.html", wait_until="load")
    first = page.locator("h1").first.inner_text()
    nxt = page.locator("a.next-page")
    if nxt.count() == 0:
        return ["index.html: no 'next' link"]
    nxt.first.click()
    page.wait_for_load_state("load")
    if page.url.endswith("index.html") or page.locator("h1").first.inner_text() == first:
        failures.append("the 'next' link of the front page did not open another page")
    page.goto(base + "index.html", wait_until="load")
    link = page.locator(".sidebar-tree a.reference.internal").nth(2)
    href = link.get_attribute("href")
    link.click()
    page.wait_for_load_state("load")
    if not page.url.split("#")[0].endswith(href.split("#")[0]):
        failures.append(f"the sidebar link {href} opened {page.url}")
    return failures


def _check_search(page, base: str) -> list[str]:
    page.goto(base + "search.html?q=certificate", wait_until="load")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=15000)
    except Exception:  # playwright's TimeoutError
        return ["search for 'certificate' listed no results"]
    hits = page.locator("#search-results ul.search li a")
    n = hits.count()
    hits.first.click()
    page.wait_for_load_state("load")
    if "search.html" in page.url:
        return ["the first search result did not open"]
    print(f"search 'certificate': {n} results")
    return []


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path, help="the built site (sphinx -b html output folder)")
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="folder for the three screenshots (default: a new temporary folder)")
    ap.add_argument("--browser", default=None, help="Chromium binary (default: found on PATH)")
    args = ap.parse_args(argv)
    if not (args.html / "index.html").is_file():
        ap.error(f"{args.html} holds no index.html: build the site first")
    browser = find_browser(args.browser)
    if browser is None:
        print("no Chromium found: apt install chromium, or pass --browser PATH", file=sys.stderr)
        return 2
    shots = args.screenshots or Path(tempfile.mkdtemp(prefix="bmp_site_"))
    failures = check(args.html, shots, browser)
    for f in failures:
        print("FAIL", f)
    print("site check:", "passed" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
