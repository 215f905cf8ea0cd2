"""A stand-in for the faculty's alumni portal's public JSON API, on 127.0.0.1 (threaded ``http.server``, port 0).

Serves ``/rs/api/list``, ``/rs/api/diplomac/<id>``, ``/rs/api/smerovi``, ``/rs/api/kompanije`` and
``/images/slike/<name>`` from in-memory data that a test may change between imports::

    with AlumniPortalStub(**portal_generate(20)) as portal:
        portal.people[3]["biografija"] = "Нова биографија"
        portal.failures[5] = "500"          # or "malformed", "invalid", "slow", "flaky", "reset"
        portal.down.add("list")             # the list endpoint answers 503 (also "smerovi", "kompanije", "slike")

``people`` maps a portal id to the JSON the portal serves for that person (the list is derived from it, ids as the
portal sends them: numbers or strings); ``programmes`` and ``companies`` are the reference lists; ``pictures`` maps a
file name to its bytes. ``requests`` counts requests per path. ``portal_generate(count)`` makes realistic data
(Serbian names, Cyrillic biographies, the five study levels, messy employment dates, LinkedIn addresses on various
hosts, null fields, JPEG pictures carrying EXIF with a GPS position); it serves 3,000 people for the benchmark.
Run as ``python -m tests.stubs.alumni_portal --people 3000`` it prints its URL and serves until terminated.
"""
import argparse
import io
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

FIRST_NAMES = ("Jelena", "Marko", "Ana", "Nikola", "Milica", "Stefan", "Jovana", "Luka", "Ivana", "Aleksandar",
               "Teodora", "Nemanja", "Katarina", "Dušan", "Marija", "Đorđe", "Sanja", "Vuk", "Tijana", "Filip")
LAST_NAMES = ("Zorić", "Marković", "Petrović", "Jovanović", "Nikolić", "Đorđević", "Ilić", "Stanković", "Pavlović",
              "Milošević", "Kostić", "Živković", "Todorović", "Šarić", "Lazić", "Čolić", "Bošković")
BIOGRAPHIES = (
    "Дипломирао на Рачунарском факултету, ради као програмер у Београду.",
    "Бави се развојем мобилних апликација и машинским учењем.",
    "Инжењерка софтвера, воли алгоритме и планинарење.",
    "Vodi tim za razvoj igara; mentor studentima RAF-a.",
    None,
    "",
)
PROGRAMMES = [
    {"id": 1, "naziv": "Računarske nauke", "nivo_studija_id": 109},
    {"id": "2", "naziv": "Računarsko inženjerstvo", "nivo_studija_id": "109"},
    {"id": 3, "naziv": "Информационе технологије", "nivo_studija_id": 108},
    {"id": 4, "naziv": "Računarski dizajn", "nivo_studija_id": 109},
    {"id": 5, "naziv": "Softversko inženjerstvo", "nivo_studija_id": 110},
    {"id": 6, "naziv": "Računarske nauke (master)", "nivo_studija_id": 110},
    {"id": 7, "naziv": "Магистарске студије рачунарства", "nivo_studija_id": 229},
    {"id": 8, "naziv": "Doktorske studije računarskih nauka", "nivo_studija_id": 210},
]
PROGRAMMES_OF_KIND = {"osnovne": (1, 2, 3, 4), "master": (5, 6, 7), "doktorske": (8,)}
TITLES = {1: "Дипломирани инжењер рачунарства", 2: "Дипломирани инжењер рачунарства",
          3: "Струковни инжењер информационих технологија", 4: "Дипломирани дизајнер",
          5: "Мастер инжењер софтвера", 6: "Мастер инжењер рачунарства", 7: "Магистар техничких наука",
          8: "Доктор наука — рачунарске науке"}
YEARS_OF_KIND = {"osnovne": 4, "master": 1, "doktorske": 3}
COMPANY_NAMES = ("Nordeus", "HTEC Group", "Seven Bridges", "Endava", "Comtrade", "Telekom Srbija", "Vega IT",
                 "Levi9", "Ubisoft Belgrade", "Synechron", "Grid Dynamics", "3Lateral", "Typhoon HIL", "Frame",
                 "Microsoft Development Center Serbia", "Институт Михајло Пупин", "RAF", "FishingBooker")
ROLES = ("Software Engineer", "Senior Developer", "Програмер", "QA inženjer", "Data Scientist", "Team Lead",
         "Game Designer", "DevOps inženjer", "Асистент", None)
# Dates as people typed them: readable ones and the "to this day" words, with a little garbage.
START_TEXTS = ("Окотобар 2019", "Mart 2018.", "Sep 2020", "Јануар2016", "2020", "10.2019", "10/2019", "2019-10",
               "Februar 2017", "jun 2021", "Avgust 2015.", "01.03.2022.", "Децембар 2018", "nov 2016")
END_TEXTS = ("Тренутно", "Trenutno", "", None, "sada", "present", "Maj 2022", "2023", "Јул 2021", "12/2020")
GARBAGE_TEXTS = ("blabla", "leto 2019", "uskoro")
LINKEDIN_FORMS = ("https://www.linkedin.com/in/{handle}/", "rs.linkedin.com/in/{handle}",
                  "http://linkedin.com/in/{handle}?trk=profile", "https://rs.linkedin.com/in/{handle}", None, "")
MENTORS = ("dr Marko Marković", "dr Ana Anić", "prof. dr Petar Petrović", "dr Jelena Ilić", "dr Nikola Kostić")


def _ascii(name):
    return (name.lower().replace("đ", "dj").replace("č", "c").replace("ć", "c").replace("š", "s")
            .replace("ž", "z"))


def picture_bytes(seed, *, size=(240, 300), gps=True):
    """A JPEG portrait stand-in, distinct per seed, carrying EXIF (a camera name and, by default, a GPS position)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.ellipse((x - 30, y - 30, x + 30, y + 30), fill=tuple(rng.randrange(256) for _ in range(3)))
    exif = Image.Exif()
    exif[0x010F] = "StubCamera"
    if gps:
        exif[0x8825] = {1: "N", 2: (44.0, 48.0, 30.0), 3: "E", 4: (20.0, 27.0, 0.0)}  # Belgrade
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, exif=exif)
    return buffer.getvalue()


def study(*, programme_id, enrolment_year, graduated_on, index="", thesis=None, mentor=None, commission=None,
          title=None):
    """One ``studije`` entry as the portal serves it."""
    return {"studijski_program_id": programme_id, "steceno_zvanje": TITLES.get(int(programme_id), "")
            if title is None else title, "generacija_id": enrolment_year, "datum_diplomiranja": graduated_on,
            "broj_indeksa": index, "tema_rada": thesis, "mentor": mentor, "komisija": commission}


def alumnus(first_name, last_name, *, biography=None, linkedin=None, picture=None, studies=None, jobs=()):
    """One ``diplomac`` answer. ``jobs``: (company id, role, start text, end text)."""
    studies = studies or {}
    return {
        "ime": first_name, "prezime": last_name, "biografija": biography, "linkedin": linkedin, "slika": picture,
        "studije": {kind: studies.get(kind) for kind in ("osnovne", "master", "doktorske")},
        "zaposlenja": [{"kompanija_id": company, "radno_mesto": role, "pocetak": start, "kraj": end}
                       for company, role, start, end in jobs],
    }


def _generated_person(number, rng, with_pictures):
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    handle = f"{_ascii(first)}-{_ascii(last)}-{number}"
    form = rng.choice(LINKEDIN_FORMS)
    enrolment = rng.randrange(2005, 2020)
    studies = {"osnovne": study(programme_id=rng.choice(PROGRAMMES_OF_KIND["osnovne"]),
                                enrolment_year=enrolment if rng.random() > 0.1 else None,
                                graduated_on=f"{enrolment + 4}-{rng.randrange(6, 10):02d}-{rng.randrange(1, 29):02d}",
                                index=f"RN {number % 200}/{enrolment}",
                                thesis=f"Primena {rng.choice(('grafova', 'neuronskih mreža', 'blokčejna'))} u "
                                       f"sistemu {number}" if rng.random() > 0.3 else None,
                                mentor=rng.choice(MENTORS), commission=", ".join(rng.sample(MENTORS, 3)))}
    if rng.random() < 0.4:
        studies["master"] = study(programme_id=str(rng.choice(PROGRAMMES_OF_KIND["master"])),
                                  enrolment_year=enrolment + 4, graduated_on=f"{enrolment + 5}-09-15",
                                  index=f"M {number % 90}/{enrolment + 4}", thesis=f"Master rad {number}",
                                  mentor=rng.choice(MENTORS))
    if rng.random() < 0.05:
        studies["doktorske"] = study(programme_id=8, enrolment_year=enrolment + 5,
                                     graduated_on=None, index=f"D {number % 20}/{enrolment + 5}")
    jobs = []
    for _ in range(rng.randrange(0, 4)):
        start = rng.choice(GARBAGE_TEXTS) if rng.random() < 0.02 else rng.choice(START_TEXTS)
        jobs.append((rng.randrange(1, len(COMPANY_NAMES) + 1), rng.choice(ROLES), start, rng.choice(END_TEXTS)))
    picture = f"slika_{number}.jpg" if with_pictures and rng.random() < 0.7 else None
    return alumnus(first, last, biography=rng.choice(BIOGRAPHIES),
                   linkedin=form.format(handle=handle) if form else form, picture=picture, studies=studies, jobs=jobs)


def portal_generate(count, *, seed=1, pictures=True):
    """Keyword arguments of ``AlumniPortalStub`` for ``count`` generated alumni (ids 1…count)."""
    rng = random.Random(seed)
    people = {number: _generated_person(number, rng, pictures) for number in range(1, count + 1)}
    images = {person["slika"]: picture_bytes(seed * 100_000 + number)
              for number, person in people.items() if person["slika"]}
    companies = [{"id": number if number % 3 else str(number), "naziv": name}
                 for number, name in enumerate(COMPANY_NAMES, start=1)]
    return {"people": people, "programmes": [dict(p) for p in PROGRAMMES], "companies": companies,
            "pictures": images}


class AlumniPortalStub:
    def __init__(self, *, people=None, programmes=None, companies=None, pictures=None, slow_seconds=2.0):
        self.people = dict(people or {})
        self.programmes = list(programmes if programmes is not None else PROGRAMMES)
        self.companies = list(companies or [])
        self.pictures = dict(pictures or {})
        self.failures = {}   # portal id → "500" | "malformed" | "invalid" | "slow" | "flaky" | "reset"
        self.down = set()    # "list" | "smerovi" | "kompanije" | "slike": answer 503
        self.slow_seconds = slow_seconds
        self.requests = Counter()
        self.lock = threading.Lock()
        self._flaky_seen = set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client's pooled session expects
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 (http.server's naming)
                with stub.lock:
                    stub.requests[self.path] += 1
                stub._route(self)

            def reply(self, status, body, content_type="application/json; charset=utf-8"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc):
        self.stop()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def person_requests(self, portal_id):
        with self.lock:
            return self.requests[f"/rs/api/diplomac/{portal_id}"]

    def listing(self):
        """The list endpoint's answer: ids as the portal sends them (every third one a string)."""
        return [{"id": str(portal_id) if portal_id % 3 == 0 else portal_id, "ime": person.get("ime"),
                 "prezime": person.get("prezime")} for portal_id, person in sorted(self.people.items())]

    def _route(self, handler):
        path = unquote(handler.path.split("?")[0])
        reference = {"/rs/api/list": ("list", self.listing), "/rs/api/smerovi": ("smerovi", lambda: self.programmes),
                     "/rs/api/kompanije": ("kompanije", lambda: self.companies)}
        if path in reference:
            name, payload = reference[path]
            if name in self.down:
                handler.reply(503, b"<html>Service Unavailable</html>", "text/html")
            else:
                handler.reply(200, json.dumps(payload(), ensure_ascii=False).encode())
        elif path.startswith("/rs/api/diplomac/"):
            self._person(handler, path.rsplit("/", 1)[1])
        elif path.startswith("/images/slike/"):
            data = self.pictures.get(path[len("/images/slike/"):])
            if "slike" in self.down or data is None:
                handler.reply(503 if data else 404, b"no such picture", "text/plain")
            else:
                handler.reply(200, data, "image/jpeg")
        else:
            handler.reply(404, b'{"error": "not found"}')

    def _person(self, handler, raw_id):
        portal_id = int(raw_id) if raw_id.isdigit() else None
        person = self.people.get(portal_id)
        failure = self.failures.get(portal_id)
        if person is None:
            handler.reply(404, b'{"error": "not found"}')
        elif failure == "500":
            handler.reply(500, b"<html>Internal Server Error</html>", "text/html")
        elif failure == "malformed":
            handler.reply(200, b'{"ime": "Nedovr')
        elif failure == "invalid":
            handler.reply(200, json.dumps({**person, "ime": {"first": "x"}, "zaposlenja": "none"}).encode())
        elif failure == "reset":
            handler.close_connection = True  # no answer at all: the client sees the connection dropped
        elif failure == "flaky" and portal_id not in self._flaky_seen:
            self._flaky_seen.add(portal_id)
            handler.reply(503, b"<html>Service Unavailable</html>", "text/html")
        else:
            if failure == "slow":
                time.sleep(self.slow_seconds)
            handler.reply(200, json.dumps(person, ensure_ascii=False).encode())


def main():
    parser = argparse.ArgumentParser(description="Serve a generated alumni portal until terminated.")
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--edit-every", type=int, default=0,
                        help="edit every Nth person (biography, a job's role), as a re-import would find them")
    args = parser.parse_args()
    data = portal_generate(args.people, seed=args.seed)
    for portal_id, person in data["people"].items():
        if args.edit_every and portal_id % args.edit_every == 0:
            person["biografija"] = f"Измењена биографија {portal_id}."
            for job in person["zaposlenja"][:1]:
                job["radno_mesto"] = "Engineering Manager"
    stub = AlumniPortalStub(**data).start()
    print(stub.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()


if __name__ == "__main__":
    main()
