"""The demo network ``flask seed`` writes into an empty network, so that every tab of the app shows something on the
embedded default: fictional people, companies, degrees, studies and jobs, generated avatars, a few posts with
comments — all written by the project, none of it real.

It is recognisably sample data: the people are ``Profile.sample`` and each biography starts with ``Primer
(demo):``; the companies' names end in ``(demo)``. It is written only into a network without any person, company or
post, so it never mixes into a real import; running it again changes nothing.
"""
import io
import logging
from datetime import date, datetime, timedelta, timezone

from flask import current_app
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import exists, or_, select

from raf_network.extensions import db
from raf_network.network.freshness import network_changed
from raf_network.network.models import (
    AcademicDegree,
    AcademicHistory,
    Comment,
    Company,
    EmploymentHistory,
    Post,
    Profile,
)
from raf_network.network.pictures import picture_store

log = logging.getLogger(__name__)

SAMPLE_MARK = "Primer (demo): "
COMPANIES = ("Severni Kod (demo)", "Oblak i Kafa (demo)", "Dunavski Podaci (demo)", "Kvant Igre (demo)",
             "Fakultetska Laboratorija (demo)")
# (key, programme, title, portal study level): the level gives ECTS and the level name the app shows.
DEGREES = (
    ("basic", "Рачунарске науке", "Дипломирани инжењер рачунарства", 109),
    ("vocational", "Информационе технологије", "Струковни инжењер информационих технологија", 108),
    ("master", "Рачунарске науке", "Мастер инжењер рачунарства", 110),
    ("doctoral", "Рачунарске науке", "Доктор наука – рачунарске науке", 210),
)
# first name, last name, LinkedIn handle, avatar colour, biography, [(degree key, enrolled, graduated, thesis)],
# [(company index, role, start, end)]
PEOPLE = (
    ("Ana", "Primerović", "ana-primerovic-demo", (52, 101, 164),
     "Backend inženjerka; piše o bazama podataka i održava jedan open-source projekat.",
     [("basic", 2012, date(2016, 7, 8), "Indeksiranje vremenskih serija u relacionim bazama"),
      ("master", 2016, date(2017, 9, 29), "Replikacija PostgreSQL baze preko više centara podataka")],
     [(0, "Backend inženjer", date(2016, 9, 1), date(2019, 12, 1)), (2, "Vodeći inženjer", date(2020, 1, 1), None)]),
    ("Nikola", "Demić", None, (196, 90, 17),
     "Mobilni developer (Flutter), mentor na letnjoj praksi.",
     [("basic", 2014, date(2018, 9, 20), "Izrada mobilne aplikacije za studentsku službu")],
     [(1, "Mobilni developer", date(2018, 10, 1), None)]),
    ("Milica", "Uzorković", "milica-uzorkovic-demo", (46, 139, 87),
     "Bavi se mašinskim učenjem i obradom prirodnog jezika na srpskom.",
     [("basic", 2011, date(2015, 6, 30), "Prepoznavanje imenovanih entiteta u srpskim tekstovima"),
      ("master", 2015, date(2016, 10, 14), None),
      ("doctoral", 2016, date(2021, 5, 21), "Modeli jezika za morfološki bogate jezike")],
     [(4, "Asistent", date(2016, 10, 1), date(2021, 6, 1)), (2, "Istraživač", date(2021, 6, 1), None)]),
    ("Stefan", "Oglednić", None, (120, 72, 160),
     "DevOps; voli Kubernetes manje nego što bi trebalo.",
     [("vocational", 2015, date(2018, 7, 2), None)],
     [(0, "Sistem administrator", date(2018, 8, 1), date(2020, 3, 1)), (1, "DevOps inženjer", date(2020, 3, 1), None)]),
    ("Jovana", "Probić", "jovana-probic-demo", (178, 34, 52),
     "Dizajnerka igara i programerka grafike.",
     [("basic", 2013, date(2017, 9, 15), "Proceduralno generisanje terena u realnom vremenu")],
     [(3, "Programer grafike", date(2017, 11, 1), None)]),
    ("Luka", "Testić", None, (0, 128, 128),
     "QA inženjer: automatizovano testiranje web aplikacija.",
     [("basic", 2016, date(2020, 9, 25), None)],
     [(2, "QA inženjer", date(2020, 10, 1), None)]),
)
# (author index, days ago, title, text, [(author index, text)])
POSTS = (
    (0, 20, "Dobrodošli u RAF alumni mrežu (demo)",
     "Ovo je primer objave iz demo mreže: ovde alumnisti dele vesti, poslove i događaje.\n\nSvi podaci su izmišljeni.",
     [(1, "Odlično, baš je lepo videti sve na jednom mestu!"), (2, "Pozdrav svima iz laboratorije."),
      (4, "Jedva čekam prvo okupljanje.")]),
    (2, 12, "Tražimo praktikante za istraživanje (demo)",
     "Naša grupa prima dva praktikanta za leto: obrada prirodnog jezika, Python. Javite se u komentarima.",
     [(5, "Da li je praksa plaćena?"), (2, "Jeste, i može da se radi od kuće dva dana nedeljno.")]),
    (3, 6, "Predavanje: Kubernetes bez suza (demo)",
     "U četvrtak u 18h držim kratko predavanje u Raf06 o tome kako smo prešli na Kubernetes. Dođite!",
     [(0, "Dolazim, ponesite i slajdove posle."), (1, "Hoće li biti snimak?"), (3, "Biće, postaviću link ovde.")]),
    (4, 1, "Naša igra je izašla (demo)",
     "Posle dve godine rada naša mala ekipa je izbacila prvu igru. Hvala profesorima koji su nas naučili osnove "
     "grafike!",
     [(0, "Čestitam!"), (5, "Skidam odmah.")]),
)
STUDY_KIND_OF = {"basic": "osnovne", "vocational": "osnovne", "master": "master", "doctoral": "doktorske"}
MENTORS = ("prof. dr Petar Primerović", "prof. dr Mila Demić", "doc. dr Vera Uzorak", "prof. dr Ivan Skica")


def _network_empty():
    return not db.session.scalar(select(or_(exists().where(Profile.id.is_not(None)),
                                            exists().where(Company.id.is_not(None)),
                                            exists().where(Post.id.is_not(None)))))


def _avatar(initials, colour):
    """A generated avatar: the initials on a coloured square (PNG bytes)."""
    image = Image.new("RGB", (256, 256), colour)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=110)
    draw.text((128, 128), initials, fill=(255, 255, 255), font=font, anchor="mm")
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def _studies(profile, studies, degrees, number):
    for index, (degree_key, enrolled, graduated, thesis) in enumerate(studies):
        db.session.add(AcademicHistory(
            profile_id=profile.id, kind=STUDY_KIND_OF[degree_key], degree_id=degrees[degree_key].id,
            student_number=f"RN {number + index}/{enrolled}", start_date=date(enrolled, 10, 1), end_date=graduated,
            thesis_title=thesis, thesis_date=graduated if thesis else None, thesis_grade=10 if thesis else None,
            thesis_abstract=f"{SAMPLE_MARK}sažetak rada „{thesis}”." if thesis else "",
            mentor=MENTORS[number % len(MENTORS)] if thesis else "",
            commission=[MENTORS[(number + k) % len(MENTORS)] for k in range(3)] if thesis else [],
        ))


def network_demo_seed():
    """Write the demo network into an empty network (commits). Returns what it wrote, or None when the network
    already had people, companies or posts (nothing is written then)."""
    if not _network_empty():
        return None
    max_bytes = current_app.config["MAX_PICTURE_BYTES"]
    companies = [Company(name=name) for name in COMPANIES]
    degrees = {key: AcademicDegree(name=name, title=title, level_id=level) for key, name, title, level in DEGREES}
    db.session.add_all([*companies, *degrees.values()])
    profiles = []
    for first, last, handle, colour, biography, _studies_of, _jobs in PEOPLE:
        media = picture_store(data=_avatar(first[0] + last[0], colour), max_bytes=max_bytes)
        profiles.append(Profile(first_name=first, last_name=last, biography=SAMPLE_MARK + biography,
                                social_id_1=handle, picture_key=media.key, visible=True, edited_fields=[],
                                sample=True))
    db.session.add_all(profiles)
    db.session.flush()
    jobs = 0
    for number, (profile, person) in enumerate(zip(profiles, PEOPLE, strict=True)):
        _studies(profile, person[5], degrees, number * 10 + 11)
        for company_index, role, start, end in person[6]:
            db.session.add(EmploymentHistory(profile_id=profile.id, company_id=companies[company_index].id, role=role,
                                             description=SAMPLE_MARK + role.lower(), start_date=start, end_date=end,
                                             source="self"))
            jobs += 1
    now = datetime.now(timezone.utc)
    comments = 0
    for author, days_ago, title, text, replies in POSTS:
        posted = now - timedelta(days=days_ago)
        post = Post(author_id=profiles[author].id, title=title, text=text, created_at=posted, updated_at=posted)
        db.session.add(post)
        db.session.flush()  # ids in publication order: the feed is newest first by id
        for minutes, (replier, reply) in enumerate(replies, start=1):
            db.session.add(Comment(post_id=post.id, author_id=profiles[replier].id, text=reply,
                                   created_at=posted + timedelta(minutes=37 * minutes)))
            comments += 1
    network_changed()
    db.session.commit()
    summary = {"people": len(profiles), "companies": len(companies), "jobs": jobs, "posts": len(POSTS),
               "comments": comments}
    log.info("demo network written: %s", summary)
    return summary
