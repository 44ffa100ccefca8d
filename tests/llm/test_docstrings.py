"""Parameter descriptions from Google, NumPy and reST docstrings."""

from __future__ import annotations

import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from requestcompletion.llm import Tool
from requestcompletion.llm._docstrings import parse_docstring


def google(city: str, days: int = 3) -> None:
    """Forecast the weather.

    Args:
        city (str): the city, by its
            English name.
        days: how many days ahead.

    Returns:
        nothing at all
    """


def numpy(city: str, days: int = 3) -> None:
    """Forecast the weather.

    Parameters
    ----------
    city : str
        the city, by its
        English name.
    days : int, optional
        how many days ahead.

    Returns
    -------
    None
    """


def rest(city: str, days: int = 3) -> None:
    """Forecast the weather.

    :param str city: the city, by its
        English name.
    :param days: how many days ahead.
    :type days: int
    :returns: nothing at all
    """


def test_all_three_styles_agree() -> None:
    expected = {"city": "the city, by its English name.", "days": "how many days ahead."}
    for function in (google, numpy, rest):
        tool = Tool.from_function(function)
        props = tool.parameters["properties"]
        assert tool.description == "Forecast the weather.", function.__name__
        assert {name: p["description"] for name, p in props.items()} == expected


def test_no_docstring_and_description_only() -> None:
    assert parse_docstring(None).params == {}
    parsed = parse_docstring("Just a description.\n\nOver two paragraphs.")
    assert parsed.description == "Just a description.\n\nOver two paragraphs."
    assert parsed.params == {}


def test_google_sections_after_args_are_not_parameters() -> None:
    parsed = parse_docstring(
        """Do it.

        Args:
            x: the x

        Raises:
            ValueError: when x is bad
        """
    )
    assert parsed.params == {"x": "the x"}


def test_numpy_several_names_on_one_line() -> None:
    parsed = parse_docstring(
        """Do it.

        Parameters
        ----------
        x, y : float
            the coordinates
        """
    )
    assert parsed.params == {"x": "the coordinates", "y": "the coordinates"}


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.,;()'", min_size=1, max_size=8)
_DESCRIPTION = st.lists(_WORD, min_size=1, max_size=12).map(" ".join)
_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


def _render(style: str, summary: str, params: dict[str, str]) -> str:
    lines = [summary, ""]
    if style == "google":
        lines.append("Args:")
        for name, text in params.items():
            wrapped = textwrap.wrap(f"{name} (int): {text}", 40)
            lines += ["    " + wrapped[0], *("        " + more for more in wrapped[1:])]
    elif style == "numpy":
        lines += ["Parameters", "----------"]
        for name, text in params.items():
            lines.append(f"{name} : int")
            lines += ["    " + part for part in textwrap.wrap(text, 40)]
    else:
        for name, text in params.items():
            wrapped = textwrap.wrap(f":param {name}: {text}", 40)
            lines += [wrapped[0], *("    " + more for more in wrapped[1:])]
    return "\n".join(lines)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["google", "numpy", "rest"]),
    _DESCRIPTION,
    st.dictionaries(_NAME, _DESCRIPTION, min_size=1, max_size=4),
)
def test_rendered_docstrings_parse_back(style: str, summary: str, params: dict[str, str]) -> None:
    parsed = parse_docstring(_render(style, summary, params))
    assert parsed.params == params
    assert parsed.description == summary
