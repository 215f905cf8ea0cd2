"""`make bench` fixture for the feed measurement: writes the posts the feed serves and prints a reader's token.

    .venv/bin/python bench/feed_fixture.py [--posts 50] [--comments 20] [--authors 25]

Run by `bench/run.sh` (catalogue step) against the seeded bench database, with the running app's environment
(``APP_ENV``, ``SECRET_KEY``, ``DATABASE_URL``, ``REDIS_URL``), so the token it prints is accepted by that app.
It writes, in one transaction, ``--authors`` alumni with pictures and biographies, ``--posts`` posts of a few
paragraphs and ``--comments`` comments on each (authors taking turns), after the demo network's posts — the feed's
newest ``FEED_LIMIT`` (50) are all these — then retires the ``network`` cache family, as every writer does, and
creates a student account to read the feed with. Prints only the access token.
"""
import io
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402

from PIL import Image, ImageDraw  # noqa: E402

WORDS = ("alumni", "raf", "projekat", "praksa", "predavanje", "posao", "tim", "kod", "baza", "oblak", "mreža",
         "studenti", "mentor", "konferencija", "Beograd", "iskustvo", "zajednica", "podaci", "igra", "sistem")


def _text(seed, words):
    return " ".join(WORDS[(seed * 7 + n * 3) % len(WORDS)] for n in range(words)).capitalize() + "."


def _avatar(n):
    image = Image.new("RGB", (256, 256), ((n * 53) % 256, (n * 97) % 256, (n * 151) % 256))
    ImageDraw.Draw(image).ellipse((64, 64, 192, 192), fill=(255, 255, 255))
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--comments", type=int, default=20)
    parser.add_argument("--authors", type=int, default=25)
    args = parser.parse_args(argv)

    from raf_network import create_app
    from raf_network.cache import cache_families_invalidate
    from raf_network.extensions import db
    from raf_network.network.models import Comment, Post, Profile
    from raf_network.network.pictures import picture_store
    from raf_network.users.services import user_create, user_token_issue

    app = create_app()
    with app.app_context():
        authors = []
        for n in range(args.authors):
            media = picture_store(data=_avatar(n), max_bytes=app.config["MAX_PICTURE_BYTES"])
            authors.append(Profile(first_name=f"Autor{n}", last_name="Benčmarković", biography=_text(n, 24),
                                   social_id_1=f"autor-{n}-bench", picture_key=media.key, visible=True,
                                   edited_fields=[], sample=True))
        db.session.add_all(authors)
        db.session.flush()
        start = datetime.now(timezone.utc) - timedelta(days=args.posts)
        for p in range(args.posts):
            posted = start + timedelta(days=p)
            post = Post(author_id=authors[p % len(authors)].id, title=_text(p, 6)[:200],
                        text="\n\n".join(_text(p + k, 40) for k in range(3)), created_at=posted, updated_at=posted)
            db.session.add(post)
            db.session.flush()
            db.session.add_all([Comment(post_id=post.id, author_id=authors[(p + c + 1) % len(authors)].id,
                                        text=_text(p * 31 + c, 18), created_at=posted + timedelta(minutes=c + 1))
                                for c in range(args.comments)])
        db.session.commit()
        cache_families_invalidate(["network"])
        email = "bench-feed-reader@example.test"
        user_create(email=email, role="student", first_name="Bench", last_name="Reader")
        print(user_token_issue(email=email))


if __name__ == "__main__":
    main()
