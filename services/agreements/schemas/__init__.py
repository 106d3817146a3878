"""marshmallow schemas of the JSON API, kept apart from the ORM models.

Input schemas are strict (unknown fields are errors) and check everything that can be
checked without the database; the operations check the rest.
"""
