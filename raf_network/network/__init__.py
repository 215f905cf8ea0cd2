"""The ``network`` blueprint: the alumni network (feed, directory, companies, histories, profiles, pictures)."""
