"""Tests for winstackers.cim.wql: the WQL subset parser and evaluator."""

from __future__ import annotations

from typing import Any

import pytest

from winstackers.cim import wql
from winstackers.cim.errors import InvalidParameter, InvalidQuery
from winstackers.cim.wql import (
    And,
    AssociatorsQuery,
    Comparison,
    Not,
    Or,
    SelectQuery,
    matches,
    parse,
    referenced_properties,
)


def _select(text: str) -> SelectQuery:
    query = parse(text)
    assert isinstance(query, SelectQuery)
    return query


def _assoc(text: str) -> AssociatorsQuery:
    query = parse(text)
    assert isinstance(query, AssociatorsQuery)
    return query


def _where(condition: str) -> wql.Expr:
    where = _select(f"SELECT * FROM Msvm_X WHERE {condition}").where
    assert where is not None
    return where


def _eval(condition: str, **props: Any) -> bool:
    return matches(_where(condition), props)


def _error(text: str) -> str:
    with pytest.raises(InvalidQuery) as info:
        parse(text)
    assert info.value.kwargs["query"] == text
    return str(info.value.kwargs["detail"])


# -- SELECT ----------------------------------------------------------------

def test_select_star() -> None:
    assert parse("SELECT * FROM Msvm_ComputerSystem") == SelectQuery(
        class_name="Msvm_ComputerSystem", properties=None, where=None)


def test_select_property_list() -> None:
    query = _select("SELECT Name, ElementName,EnabledState FROM Msvm_ComputerSystem")
    assert query.properties == ("Name", "ElementName", "EnabledState")
    assert query.class_name == "Msvm_ComputerSystem"


def test_select_single_property() -> None:
    assert _select("SELECT Name FROM Msvm_X").properties == ("Name",)


def test_keywords_are_case_insensitive() -> None:
    query = _select("select * From Msvm_X wHeRe a = TRUE aNd NOT b LiKe 'x' oR c iS nOt NuLl")
    assert query.where == Or(
        And(Comparison("a", "=", True), Not(Comparison("b", "LIKE", "x"))),
        Comparison("c", "IS NOT NULL", None))


def test_names_keep_their_spelling() -> None:
    query = _select("SELECT elementNAME FROM msvm_computersystem WHERE eNaBlEdStAtE = 2")
    assert query.class_name == "msvm_computersystem"
    assert query.properties == ("elementNAME",)
    assert referenced_properties(query.where) == {"eNaBlEdStAtE"}


def test_underscore_identifiers() -> None:
    query = _select("SELECT _a1 FROM _Class_2 WHERE __x_ = 1")
    assert query.class_name == "_Class_2"
    assert query.where == Comparison("__x_", "=", 1)


def test_whitespace_is_free() -> None:
    query = _select("  SELECT\n*\tFROM  Msvm_X  WHERE(a=1)AND(b<>2)  ")
    assert query.where == And(Comparison("a", "=", 1), Comparison("b", "<>", 2))


# -- WHERE structure ---------------------------------------------------------

def test_and_binds_tighter_than_or() -> None:
    assert _where("a = 1 OR b = 2 AND c = 3") == Or(
        Comparison("a", "=", 1), And(Comparison("b", "=", 2), Comparison("c", "=", 3)))


def test_not_binds_tighter_than_and() -> None:
    assert _where("NOT a = 1 AND b = 2") == And(
        Not(Comparison("a", "=", 1)), Comparison("b", "=", 2))


def test_parentheses_override_precedence() -> None:
    assert _where("(a = 1 OR b = 2) AND c = 3") == And(
        Or(Comparison("a", "=", 1), Comparison("b", "=", 2)), Comparison("c", "=", 3))


def test_not_applies_to_parenthesised_group() -> None:
    assert _where("NOT (a = 1 OR b = 2)") == Not(
        Or(Comparison("a", "=", 1), Comparison("b", "=", 2)))


def test_double_not() -> None:
    assert _where("NOT NOT a = 1") == Not(Not(Comparison("a", "=", 1)))


def test_and_or_are_left_associative() -> None:
    assert _where("a = 1 AND b = 2 AND c = 3") == And(
        And(Comparison("a", "=", 1), Comparison("b", "=", 2)), Comparison("c", "=", 3))


def test_nested_parentheses() -> None:
    assert _where("((a = 1))") == Comparison("a", "=", 1)


def test_precedence_changes_evaluation() -> None:
    props = {"a": 1, "b": 0, "c": 0}
    assert matches(_where("a = 1 OR b = 1 AND c = 1"), props) is True
    assert matches(_where("(a = 1 OR b = 1) AND c = 1"), props) is False


@pytest.mark.parametrize("op", ["=", "<>", "!=", "<", ">", "<=", ">="])
def test_each_comparison_operator_parses(op: str) -> None:
    assert _where(f"Port {op} 5") == Comparison("Port", op, 5)


def test_like_and_not_like_parse() -> None:
    assert _where("Name LIKE 'a%'") == Comparison("Name", "LIKE", "a%")
    assert _where("Name NOT LIKE 'a%'") == Comparison("Name", "NOT LIKE", "a%")


def test_is_null_and_is_not_null_parse() -> None:
    assert _where("Name IS NULL") == Comparison("Name", "IS NULL", None)
    assert _where("Name IS NOT NULL") == Comparison("Name", "IS NOT NULL", None)


# -- literals ----------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("42", 42), ("-7", -7), ("0", 0), ("3.5", 3.5), ("-0.25", -0.25), ("1e3", 1000.0),
    ("TRUE", True), ("false", False), ("'abc'", "abc"), ('"abc"', "abc"), ("''", ""),
])
def test_literal_values(text: str, value: object) -> None:
    where = _where(f"p = {text}")
    assert isinstance(where, Comparison)
    assert where.value == value
    assert type(where.value) is type(value)


def test_backslash_escapes_quote() -> None:
    assert _where(r"Name = 'it\'s'") == Comparison("Name", "=", "it's")
    assert _where(r'Name = "say \"hi\""') == Comparison("Name", "=", 'say "hi"')


def test_other_quote_needs_no_escape() -> None:
    assert _where("Name = \"it's\"") == Comparison("Name", "=", "it's")


def test_double_backslash_is_one_backslash() -> None:
    assert _where(r"Path = 'C:\\VMs\\a.vhdx'") == Comparison("Path", "=", "C:\\VMs\\a.vhdx")


def test_like_with_escaped_backslash_matches_instance_id() -> None:
    query = _select(r"SELECT * FROM Msvm_X WHERE InstanceID LIKE '%\\Default'")
    assert query.where == Comparison("InstanceID", "LIKE", "%\\Default")
    assert matches(query.where, {"InstanceID": "Microsoft:Definition\\abc\\Default"})
    assert not matches(query.where, {"InstanceID": "Microsoft:Definition\\abc\\Other"})
    assert not matches(query.where, {"InstanceID": "Microsoft:DefinitionDefault"})


def test_braces_inside_string_literal() -> None:
    assert _where("Name = '{x}'") == Comparison("Name", "=", "{x}")


# -- evaluation: comparisons -------------------------------------------------

@pytest.mark.parametrize(("op", "expected"), [
    ("=", [False, True, False]), ("<>", [True, False, True]), ("!=", [True, False, True]),
    ("<", [True, False, False]), (">", [False, False, True]),
    ("<=", [True, True, False]), (">=", [False, True, True]),
])
def test_numeric_operators(op: str, expected: list[bool]) -> None:
    where = _where(f"Port {op} 5")
    assert [matches(where, {"Port": port}) for port in (4, 5, 6)] == expected


def test_float_comparison() -> None:
    assert _eval("Ratio > 0.5", Ratio=0.75)
    assert not _eval("Ratio > 0.5", Ratio=0.25)
    assert _eval("Ratio = 2", Ratio=2.0)


def test_string_equality_is_case_insensitive() -> None:
    assert _eval("ElementName = 'MyVM'", ElementName="myvm")
    assert not _eval("ElementName <> 'MyVM'", ElementName="MYVM")


def test_string_ordering_is_case_insensitive() -> None:
    assert _eval("Name < 'b'", Name="A")
    assert _eval("Name >= 'B'", Name="b")


def test_property_lookup_is_case_insensitive() -> None:
    assert matches(_where("ELEMENTNAME = 'vm'"), {"ElementName": "VM"})
    assert matches(_where("elementname = 'vm'"), {"ElementName": "VM"})


def test_exact_property_spelling_wins() -> None:
    props = {"name": "lower", "Name": "upper"}
    assert matches(_where("Name = 'upper'"), props)
    assert matches(_where("name = 'lower'"), props)


def test_int_property_with_numeric_string_literal() -> None:
    assert _eval("EnabledState = '2'", EnabledState=2)
    assert _eval("EnabledState > '1'", EnabledState=2)
    assert not _eval("EnabledState = '3'", EnabledState=2)
    assert _eval("Ratio = '0.5'", Ratio=0.5)


def test_int_property_with_non_numeric_string_is_false() -> None:
    assert not _eval("EnabledState = 'two'", EnabledState=2)
    assert not _eval("EnabledState <> 'two'", EnabledState=2)


def test_string_property_with_number_literal_is_false() -> None:
    assert not _eval("Name = 5", Name="5")
    assert not _eval("Name <> 5", Name="5")


def test_bool_compares_only_with_bool() -> None:
    assert _eval("Enabled = TRUE", Enabled=True)
    assert _eval("Enabled = FALSE", Enabled=False)
    assert _eval("Enabled <> TRUE", Enabled=False)
    assert not _eval("Enabled = 'true'", Enabled=True)
    assert not _eval("Enabled = 1", Enabled=True)
    assert not _eval("Count = TRUE", Count=1)


def test_unknown_value_type_compares_false() -> None:
    assert not _eval("Blob = 'x'", Blob=b"x")


# -- evaluation: NULL ------------------------------------------------------

def test_is_null_evaluation() -> None:
    assert _eval("Name IS NULL", Name=None)
    assert not _eval("Name IS NULL", Name="x")
    assert _eval("Name IS NOT NULL", Name="")
    assert not _eval("Name IS NOT NULL", Name=None)


@pytest.mark.parametrize("condition", [
    "Name = 'x'", "Name <> 'x'", "Name != 'x'", "Name < 'x'", "Name >= 'x'",
    "Name LIKE '%'", "Name NOT LIKE 'x'", "Name = 0", "Name = FALSE",
])
def test_null_value_is_false_for_other_operators(condition: str) -> None:
    assert _eval(condition, Name=None) is False


def test_not_of_null_comparison_is_true() -> None:
    assert _eval("NOT Name = 'x'", Name=None) is True


# -- evaluation: LIKE --------------------------------------------------------

@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("%", "", True),
    ("%", "anything", True),
    ("Win%", "Windows", True),
    ("Win%", "xWindows", False),
    ("%Win%", "MyWindows", True),
    ("a%b%c", "aXXbYYc", True),
    ("a%b%c", "aXXbYY", False),
    ("v_", "v1", True),
    ("v_", "v", False),
    ("v_", "v12", False),
    ("__", "ab", True),
    ("[abc]x", "bx", True),
    ("[abc]x", "dx", False),
    ("[a-f]1", "E1", True),
    ("[a-f]1", "g1", False),
    ("[0-9][0-9]", "42", True),
    ("[^abc]x", "dx", True),
    ("[^abc]x", "ax", False),
    ("[^a-f]", "z", True),
    ("[^a-f]", "C", False),
    ("a[%]", "a%", True),
    ("a[%]", "ab", False),
    ("x[_]y", "x_y", True),
    ("x[_]y", "xzy", False),
    ("[]]", "]", True),
    ("[a-]", "-", True),
    ("50.0", "5000", False),
    ("a+b", "a+b", True),
    ("(x)*", "(x)*", True),
    ("a^b", "a^b", True),
    ("a]b", "a]b", True),
    ("%", "line1\nline2", True),
])
def test_like_patterns(pattern: str, value: str, expected: bool) -> None:
    where = Comparison("Name", "LIKE", pattern)
    assert matches(where, {"Name": value}) is expected
    assert matches(Comparison("Name", "NOT LIKE", pattern), {"Name": value}) is not expected


def test_like_is_case_insensitive() -> None:
    assert _eval("Name LIKE 'MICROSOFT:%'", Name="microsoft:abc")
    assert _eval("Name LIKE '[A-C]x'", Name="bX")


def test_like_on_non_string_is_false() -> None:
    assert not _eval("Port LIKE '5%'", Port=55)
    assert not _eval("Port NOT LIKE '5%'", Port=55)


def test_like_patterns_are_cached() -> None:
    wql._like_regex.cache_clear()
    where = _where("Name LIKE 'cache%me'")
    matches(where, {"Name": "cache it me"})
    matches(where, {"Name": "cache that me"})
    assert wql._like_regex.cache_info().hits >= 2


def test_like_regex_is_anchored() -> None:
    regex = wql._like_regex("abc")
    assert regex.match("abc")
    assert not regex.match("abcd")
    assert not regex.match("xabc")


# -- evaluation: strictness ------------------------------------------------

def test_unknown_property_raises_naming_it() -> None:
    with pytest.raises(InvalidQuery) as info:
        matches(_where("Nonexistent = 1"), {"Name": "x"})
    assert info.value.kwargs["detail"] == "no property 'Nonexistent'"
    assert "Nonexistent = 1" in info.value.kwargs["query"]


def test_unknown_property_raises_even_when_short_circuited() -> None:
    with pytest.raises(InvalidQuery, match="no property 'Bogus'"):
        matches(_where("Name = 'x' OR Bogus = 1"), {"Name": "x"})


def test_array_property_raises() -> None:
    with pytest.raises(InvalidQuery, match="'Addresses' is an array"):
        matches(_where("Addresses = 'a'"), {"Addresses": ["a", "b"]})


def test_tuple_property_raises() -> None:
    with pytest.raises(InvalidQuery, match="array"):
        matches(_where("Addresses IS NULL"), {"Addresses": ("a",)})


def test_invalid_query_is_an_invalid_parameter() -> None:
    with pytest.raises(InvalidParameter):
        parse("DELETE FROM X")


def test_unsupported_operator_in_hand_built_comparison() -> None:
    with pytest.raises(InvalidQuery, match="unsupported operator 'ISA'"):
        matches(Comparison("Name", "ISA", "x"), {"Name": "x"})


def test_bad_pattern_in_hand_built_comparison() -> None:
    with pytest.raises(InvalidQuery, match="unclosed"):
        matches(Comparison("Name", "LIKE", "[abc"), {"Name": "a"})


def test_no_where_matches_everything() -> None:
    assert matches(None, {}) is True


def test_combined_evaluation() -> None:
    where = _where("ElementName LIKE 'vm-%' AND NOT (EnabledState = 3 OR Notes IS NULL)")
    assert matches(where, {"ElementName": "VM-1", "EnabledState": 2, "Notes": "n"})
    assert not matches(where, {"ElementName": "VM-1", "EnabledState": 3, "Notes": "n"})
    assert not matches(where, {"ElementName": "VM-1", "EnabledState": 2, "Notes": None})
    assert not matches(where, {"ElementName": "host", "EnabledState": 2, "Notes": "n"})


# -- referenced_properties / str -----------------------------------------------

def test_referenced_properties() -> None:
    where = _where("a = 1 AND (NOT B LIKE 'x' OR c IS NULL) OR a = 2")
    assert referenced_properties(where) == {"a", "B", "c"}


def test_referenced_properties_of_none() -> None:
    assert referenced_properties(None) == set()


def test_str_round_trips() -> None:
    where = _where(r"NOT (a = 'it\'s' OR b IS NOT NULL) AND c NOT LIKE '%\\x' AND d >= -1.5"
                   " AND e = TRUE")
    text = str(where)
    assert "NOT (a = 'it\\'s' OR b IS NOT NULL)" in text
    assert _where(text) == where


# -- ASSOCIATORS OF / REFERENCES OF ------------------------------------------

_PATH = 'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",Name="X"'


def test_associators_without_where() -> None:
    assert parse(f"ASSOCIATORS OF {{{_PATH}}}") == AssociatorsQuery(
        source_path=_PATH, references=False, assoc_class=None, result_class=None,
        role=None, result_role=None)


def test_associators_with_every_keyword() -> None:
    query = _assoc(f"ASSOCIATORS OF {{{_PATH}}} WHERE AssocClass = Msvm_SystemDevice "
                   "ResultClass = Msvm_SyntheticEthernetPort Role = GroupComponent "
                   "ResultRole = PartComponent")
    assert query.source_path == _PATH
    assert query.references is False
    assert query.assoc_class == "Msvm_SystemDevice"
    assert query.result_class == "Msvm_SyntheticEthernetPort"
    assert query.role == "GroupComponent"
    assert query.result_role == "PartComponent"


@pytest.mark.parametrize(("term", "field", "value"), [
    ("AssocClass = A_1", "assoc_class", "A_1"),
    ("ResultClass = B", "result_class", "B"),
    ("Role = Dependent", "role", "Dependent"),
    ("ResultRole = Antecedent", "result_role", "Antecedent"),
])
def test_associators_single_keyword(term: str, field: str, value: str) -> None:
    query = _assoc(f"ASSOCIATORS OF {{x.Name=\"1\"}} WHERE {term}")
    assert getattr(query, field) == value
    others = {"assoc_class", "result_class", "role", "result_role"} - {field}
    assert all(getattr(query, name) is None for name in others)


def test_associators_keywords_case_insensitive_and_quoted_values() -> None:
    query = _assoc("associators of {x} where resultclass='Msvm_A' ASSOCCLASS=\"Msvm_B\"")
    assert (query.result_class, query.assoc_class) == ("Msvm_A", "Msvm_B")


def test_associators_path_with_namespace_and_backslashes() -> None:
    path = r'\\HOST\root\virtualization\v2:Msvm_ComputerSystem.Name="A}B"'
    assert _assoc(f"ASSOCIATORS OF {{ {path} }}").source_path == path


def test_references_of() -> None:
    query = _assoc(f"REFERENCES OF {{{_PATH}}} WHERE ResultClass = Msvm_SystemDevice "
                   "Role = GroupComponent")
    assert query.references is True
    assert query.source_path == _PATH
    assert query.result_class == "Msvm_SystemDevice"
    assert query.role == "GroupComponent"
    assert query.assoc_class is None and query.result_role is None


def test_references_of_without_where() -> None:
    assert _assoc("references OF {x}").references is True


@pytest.mark.parametrize("keyword", ["AssocClass", "ResultRole"])
def test_references_of_rejects_associators_only_keywords(keyword: str) -> None:
    detail = _error(f"REFERENCES OF {{x}} WHERE {keyword} = A")
    assert f"{keyword} is not allowed in REFERENCES OF" in detail


@pytest.mark.parametrize("keyword", [
    "ClassDefsOnly", "SchemaOnly", "RequiredQualifier = Q", "RequiredAssocQualifier = Q",
])
def test_associators_unsupported_keywords(keyword: str) -> None:
    detail = _error(f"ASSOCIATORS OF {{x}} WHERE {keyword}")
    assert f"{keyword.split()[0]} is not supported in ASSOCIATORS OF" in detail


def test_associators_unknown_keyword() -> None:
    assert "unknown ASSOCIATORS OF keyword 'Colour'" in _error(
        "ASSOCIATORS OF {x} WHERE Colour = Red")


def test_associators_terms_joined_by_and() -> None:
    detail = _error("ASSOCIATORS OF {x} WHERE AssocClass = A AND ResultClass = B")
    assert "separated by spaces, not AND" in detail


def test_associators_duplicate_keyword() -> None:
    assert "Role is given twice" in _error("ASSOCIATORS OF {x} WHERE Role = A role = B")


def test_associators_missing_equals() -> None:
    assert "expected '=' after ResultClass" in _error("ASSOCIATORS OF {x} WHERE ResultClass A")


def test_associators_missing_value() -> None:
    assert "expected a class or role name after 'Role ='" in _error(
        "ASSOCIATORS OF {x} WHERE Role =")


def test_associators_empty_where() -> None:
    assert "expected one of AssocClass" in _error("ASSOCIATORS OF {x} WHERE")


def test_associators_missing_path() -> None:
    assert "expected an object path in braces" in _error("ASSOCIATORS OF Msvm_X")


def test_associators_missing_of() -> None:
    assert "expected OF" in _error("ASSOCIATORS {x}")


def test_associators_unclosed_brace() -> None:
    assert "unclosed '{' at position 15" in _error("ASSOCIATORS OF {x.Name=\"1\"")


def test_associators_empty_path() -> None:
    assert "empty object path" in _error("ASSOCIATORS OF { }")


# -- syntax errors -----------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("", "expected SELECT, ASSOCIATORS OF or REFERENCES OF, found end of query at position 0"),
    ("UPDATE X", "expected SELECT, ASSOCIATORS OF or REFERENCES OF, found 'UPDATE'"),
    ("SELECT", "expected a property name or '*', found end of query at position 6"),
    ("SELECT * Msvm_X", "expected FROM, found 'Msvm_X' at position 9"),
    ("SELECT * FROM", "expected a class name, found end of query at position 13"),
    ("SELECT * FROM WHERE", "expected a class name, found keyword WHERE"),
    ("SELECT a, FROM X", "expected a property name, found keyword FROM at position 10"),
    ("SELECT *, a FROM X", "expected FROM, found ','"),
    ("SELECT * FROM X, Y", "expected end of query, found ','"),
    ("SELECT * FROM X WHERE", "expected a property name, found end of query"),
    ("SELECT * FROM X WHERE a", "expected an operator"),
    ("SELECT * FROM X WHERE a =", "expected a literal value after '=', found end of query"),
    ("SELECT * FROM X WHERE a = b", "expected a literal value after '=', found 'b'"),
    ("SELECT * FROM X WHERE a = 1 b = 2", "expected end of query, found 'b'"),
    ("SELECT * FROM X WHERE a = 1 AND", "expected a property name, found end of query"),
    ("SELECT * FROM X WHERE (a = 1", "expected ')', found end of query at position 28"),
    ("SELECT * FROM X WHERE a = 1)", "expected end of query, found ')'"),
    ("SELECT * FROM X WHERE a IS 5", "expected NULL after IS, found '5'"),
    ("SELECT * FROM X WHERE a IS NOT 'x'", "expected NULL after IS, found string 'x'"),
    ("SELECT * FROM X WHERE a NOT = 1", "expected LIKE after NOT, found '='"),
    ("SELECT * FROM X WHERE a LIKE 5", "expected a string pattern after LIKE, found '5'"),
    ("SELECT * FROM X WHERE a = 'x", "unterminated string starting at position 26"),
    ("SELECT * FROM X WHERE a = 'x\\'", "unterminated string starting at position 26"),
    ("SELECT * FROM X WHERE a # 1", "unexpected character '#' at position 24"),
    ("SELECT * FROM X WHERE a = - 1", "unexpected character '-' at position 26"),
    ("SELECT * FROM X WHERE a = {p}", "expected a literal value after '=', found object path"),
    ("SELECT * FROM X WHERE a LIKE '[ab'", "unclosed '['"),
    ("SELECT * FROM X WHERE a LIKE 'x[]'", "unclosed '['"),
    ("SELECT * FROM X WHERE a LIKE '[z-a]'", "bad range 'z-a' in LIKE pattern at position 29"),
])
def test_syntax_errors(text: str, message: str) -> None:
    assert message in _error(text)


@pytest.mark.parametrize("op", ["=", "<>", "!="])
def test_equals_null_is_rejected(op: str) -> None:
    detail = _error(f"SELECT * FROM X WHERE a {op} NULL")
    assert f"cannot compare with NULL using '{op}'; use IS NULL or IS NOT NULL" in detail


@pytest.mark.parametrize("literal", ["'x'", "5", "TRUE", "NULL"])
def test_literal_on_left_is_rejected(literal: str) -> None:
    detail = _error(f"SELECT * FROM X WHERE {literal} = Name")
    assert "literal on the left-hand side is not supported" in detail
    assert "at position 22" in detail


@pytest.mark.parametrize(("text", "word"), [
    ("SELECT * FROM X ORDER BY Name", "ORDER"),
    ("SELECT * FROM X GROUP WITHIN 10", "GROUP"),
    ("SELECT * FROM X JOIN Y", "JOIN"),
    ("SELECT * FROM X WHERE __CLASS ISA 'Msvm_X'", "ISA"),
    ("SELECT * FROM X WHERE a = 1 HAVING b = 1", "HAVING"),
])
def test_unsupported_clauses(text: str, word: str) -> None:
    assert f"{word} is not supported by this WQL subset" in _error(text)


def test_error_message_includes_query_text() -> None:
    with pytest.raises(InvalidQuery) as info:
        parse("SELECT * FROM X WHERE a = NULL")
    assert "invalid WQL query 'SELECT * FROM X WHERE a = NULL'" in str(info.value)
    assert "position 26" in str(info.value)
