#!/usr/bin/env python3
"""weft-import serve's upload page (GET /) in a real headless browser: Chromium through Selenium.

Generates a 20,000-row workbook with 2% invalid rows, starts `weft-import serve` on a free
loopback port with a fresh SQLite file, and, as a user would: opens the page, chooses the file
and a method, clicks Import, and watches the progress bar go to 1000 through at least one
intermediate state ("running: N rows read" with 0 < N < all rows; every change of #state and
#bar is recorded in the page by a MutationObserver, so none is missed between two polls). Then
it checks the result table against the database (rows of `businesses`) and the rejected rows
the page lists against the import's rejects.csv. The error path: a file that is not an .xlsx,
whose #error must be the server's own message. Last, SIGTERM must stop the server with exit 0.

Usage: WEFT_IMPORT_EXE=path/to/weft-import serve_browser_test.py
Exit: 0 passed, 1 failed, 77 skipped (chromium, chromedriver or python3-selenium missing:
apt-get install chromium chromium-driver python3-selenium). Every wait has a timeout, and a
watchdog fails the whole test after OVERALL_TIMEOUT seconds.
"""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77
OVERALL_TIMEOUT = 240  # s: under ctest's 300; a run takes 7 s on idle cores, 30 s on busy ones
ROWS = 20000
SYSTEM_PYTHON = "/usr/bin/python3"


def skip(why):
    print(f"serve_browser_test: skipped: {why}")
    sys.exit(SKIP)


def import_selenium():
    try:
        import selenium  # noqa: F401
        return
    except ImportError:
        pass
    # Debian's python3-selenium is installed for the system interpreter; a pyenv or venv python3
    # found first on PATH does not see it, so run this script again with the system one.
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.access(
            SYSTEM_PYTHON, os.X_OK) and not os.environ.get("SERVE_BROWSER_REEXEC"):
        os.environ["SERVE_BROWSER_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    skip("python3-selenium is not installed")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def wait_until(what, timeout, probe, interval=0.05):
    """Polls probe() until it returns something truthy, which it returns; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Server:
    """weft-import serve on 127.0.0.1:0, its URL read from its first stdout line."""

    def __init__(self, exe, db, workdir):
        self.stderr = open(os.path.join(workdir, "serve.stderr"), "w+")
        self.proc = subprocess.Popen(
            [exe, "serve", "--listen", "127.0.0.1:0", "--db", "sqlite:" + db],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(20)
        m = re.match(r"weft-import serve: listening on (http://\S+)", line[0] if line else "")
        if not m:
            self.kill()
            raise Failure(f"the server did not say where it listens (stdout: {line!r}, "
                          f"stderr: {self.stderr_text()!r})")
        self.url = m.group(1)

    def stderr_text(self):
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()

    def get(self, path, timeout=10):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return r.status, r.read()

    def post(self, path, body, content_type, timeout=30):
        req = urllib.request.Request(self.url + path, data=body, method="POST",
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def terminate(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure(f"the server did not stop within {timeout} s of SIGTERM")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# Installed in the page before the upload: records every text of #state and every value of
# #bar, in order, as the page's own script sets them.
RECORDER = """
window.__seen = [];
const rec = () => window.__seen.push([document.getElementById('state').textContent,
                                      Number(document.getElementById('bar').value)]);
new MutationObserver(rec).observe(document.getElementById('state'),
                                  {childList: true, characterData: true, subtree: true});
new MutationObserver(rec).observe(document.getElementById('bar'), {attributes: true});
"""


def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    # --no-sandbox: Chromium's sandbox refuses to run as root (CI containers run as root).
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,900"):
        opts.add_argument(a)
    service = Service(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    return driver


def import_through_page(driver, server, workbook, method):
    """Uploads `workbook` with `method` from the page; returns (the recorded (state, bar)
    changes, the result table as a dict, the rejects table's rows, the import's id)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(server.url + "/")
    check(driver.title == "weft-import", f"the page's title is {driver.title!r}")
    driver.execute_script(RECORDER)
    driver.find_element(By.ID, "file").send_keys(workbook)
    Select(driver.find_element(By.ID, "method")).select_by_value(method)
    driver.find_element(By.ID, "submit").click()

    def finished():
        if driver.find_element(By.ID, "error").text:
            raise Failure("the page shows an error: " + driver.find_element(By.ID, "error").text)
        return driver.find_element(By.ID, "result").is_displayed()

    wait_until("the result table", 150, finished, interval=0.1)
    seen = driver.execute_script("return window.__seen;")
    result = {}
    for tr in driver.find_elements(By.CSS_SELECTOR, "#result tbody tr"):
        result[tr.get_attribute("id")] = tr.find_element(By.TAG_NAME, "td").text
    rejects = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
               for tr in driver.find_elements(By.CSS_SELECTOR, "#rejects tbody tr")]
    check(driver.find_element(By.ID, "rejects").is_displayed() == bool(rejects),
          "#rejects is shown exactly when it has rows")
    # The page knows the import only by its events URL: the id is in the browser's resource
    # timing entries.
    urls = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);")
    ids = [m.group(1) for u in urls for m in [re.search(r"/imports/([^/]+)/events", u)] if m]
    check(len(ids) == 1, f"one events stream, for one import (resources: {urls})")
    return seen, result, rejects, ids[0]


def run(exe, tmp):
    workbook = os.path.join(tmp, "businesses.xlsx")
    subprocess.run([exe, "generate", "--rows", str(ROWS), "--invalid-rate", "0.02", "-q",
                    workbook], check=True, timeout=60)
    db = os.path.join(tmp, "b.db")
    server = Server(exe, db, tmp)
    driver = None
    try:
        driver = make_driver()
        watchdog_state["driver"] = driver
        watchdog_state["server"] = server

        # The happy path. Sequential writes a row per transaction, slow enough that the 200 ms
        # progress ticks of the events stream catch it halfway even on a fast machine.
        t0 = time.monotonic()
        seen, result, rejects, job_id = import_through_page(driver, server, workbook,
                                                            "sequential")
        print(f"import through the page: {time.monotonic() - t0:.1f} s, "
              f"{len(seen)} state/bar changes")
        states = [s for s, _ in seen]
        bars = [b for _, b in seen]
        check(bars and bars[-1] == 1000, f"the bar ends at 1000 (values: {bars})")
        check(all(a <= b for a, b in zip(bars, bars[1:])), f"the bar never goes back: {bars}")
        check(states and states[-1] == "succeeded", f"the last state is succeeded: {states}")
        total, ok, bad = (int(result[k]) for k in ("r-total_records", "r-success_count",
                                                   "r-error_count"))
        # Halfway: some rows read or written, not all of them (sequential reads every row
        # before it writes one, so most of these are in its writing half).
        middle = []
        for s, b in seen:
            m = re.match(r"running: (\d+) rows read, (\d+) written$", s)
            if m and 0 < int(m.group(1)) + int(m.group(2)) < ROWS + ok and 0 < b < 1000:
                middle.append((s, b))
        check(middle, f"at least one intermediate state and bar: {seen}")
        print(f"intermediate states seen: {len(middle)}, e.g. {middle[len(middle) // 2]!r}")

        check(result.get("r-method") == "sequential", f"the result's method: {result}")
        check(result.get("r-file") == "businesses.xlsx", f"the result's file: {result}")
        check(total == ROWS, f"total_records {total}, generated {ROWS}")
        check(ok + bad == total, f"success {ok} + errors {bad} = total {total}")
        check(0 < bad < ROWS // 10, f"about 2% of the rows are rejected: {bad}")
        with sqlite3.connect(db) as conn:
            in_db = conn.execute("SELECT COUNT(*) FROM businesses").fetchone()[0]
        check(in_db == ok, f"the database holds {in_db} rows, the page says {ok} were written")

        status, csv = server.get(f"/imports/{job_id}/rejects.csv")
        check(status == 200, f"rejects.csv: HTTP {status}")
        lines = csv.decode().splitlines()
        check(lines[0] == "row,reason" and len(lines) - 1 == bad,
              f"rejects.csv has a header and {bad} rows: {len(lines) - 1}")
        check(len(rejects) == min(20, bad), f"the page lists the first 20 rejects: {rejects}")
        for (row, reason), line in zip(rejects, lines[1:]):
            want_row, want_reason = line.split(",", 1)
            if want_reason.startswith('"'):
                want_reason = want_reason[1:-1].replace('""', '"')
            check(row == want_row and reason == want_reason,
                  f"the page's reject {row}: {reason!r} is rejects.csv's {line!r}")
        print(f"result: {total} rows, {ok} written (= the database), {bad} rejected, "
              f"{len(rejects)} shown")

        # The error path: not a workbook. The page must show what the server says.
        not_xlsx = os.path.join(tmp, "notes.xlsx")
        with open(not_xlsx, "w") as f:
            f.write("name,city\nAcme,Springfield\n")
        boundary = "serve-browser-test"
        with open(not_xlsx, "rb") as f:
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                    f"filename=\"notes.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    ).encode() + f.read() + f"\r\n--{boundary}--\r\n".encode()
        status, answer = server.post("/upload?async=1&method=pipeline", body,
                                     f"multipart/form-data; boundary={boundary}")
        check(status == 415, f"a text file is refused with 415: {status} {answer!r}")
        message = json.loads(answer)["error"]

        from selenium.webdriver.common.by import By
        driver.get(server.url + "/")
        driver.find_element(By.ID, "file").send_keys(not_xlsx)
        driver.find_element(By.ID, "submit").click()
        shown = wait_until("#error", 20, lambda: driver.find_element(By.ID, "error").text)
        check(shown == message, f"#error shows {shown!r}, the server says {message!r}")
        check(not driver.find_element(By.ID, "result").is_displayed(),
              "no result table after a refused upload")
        print(f"error path: #error shows {shown!r}")
    finally:
        if driver is not None:
            driver.quit()
        watchdog_state["driver"] = None
    rc = server.terminate()
    check(rc == 0, f"the server exits 0 on SIGTERM, not {rc}: {server.stderr_text()}")
    print("SIGTERM: the server exited 0")


watchdog_state = {"driver": None, "server": None}


def watchdog():
    print(f"serve_browser_test: FAILED: still running after {OVERALL_TIMEOUT} s", flush=True)
    server = watchdog_state["server"]
    if server is not None:
        server.kill()
    driver = watchdog_state["driver"]
    if driver is not None:
        try:
            driver.service.process.kill()  # chromedriver; Chromium exits when it goes
        except Exception:
            pass
    os._exit(1)


def main():
    exe = os.environ.get("WEFT_IMPORT_EXE")
    if not exe or not os.access(exe, os.X_OK):
        print("serve_browser_test: set WEFT_IMPORT_EXE to the weft-import binary")
        return 1
    for prog, pkg in (("chromium", "chromium"), ("chromedriver", "chromium-driver")):
        if not shutil.which(prog):
            skip(f"{prog} is not installed (apt-get install {pkg})")
    import_selenium()
    timer = threading.Timer(OVERALL_TIMEOUT, watchdog)
    timer.daemon = True
    timer.start()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="serve-browser-") as tmp:
        try:
            run(exe, tmp)
        except Failure as e:
            print(f"serve_browser_test: FAILED: {e}")
            server = watchdog_state["server"]
            if server is not None:
                server.kill()
                print("---- server stderr ----\n" + server.stderr_text())
            return 1
        finally:
            timer.cancel()
    print(f"serve_browser_test: passed in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
