"""Every layout of a class of identifier, with made-up values: Unicode names, every date layout, weekdays.

Each case is a mechanism, not an example from a note: a name in any script in a name position, a date in
any order of day, month (name or number) and year with any separator, both ends of a range.
"""

from __future__ import annotations

import pytest

from medbatch.notes.tasks.deid.recognizers import find_phi


def found(text: str, kind: str) -> list[str]:
    return [text[s.start : s.end] for s in find_phi(text, recall_first=True) if s.type == kind]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Seen by Dr. Zoë Ångström today.", "Zoë Ångström"),
        ("Patient: Íñigo Muñoz-Çelik, 54 y/o.", "Íñigo Muñoz-Çelik"),
        ("Discussed with daughter Łucja Wróbel at bedside.", "Łucja Wróbel"),
        ("Dr. José Núñez called back.", "José Núñez"),
        ("Spoke with Mr. Søren Kierkegård.", "Søren Kierkegård"),
        # decomposed accents (e + combining acute) are letters of the word too
        ("Seen by Dr. Rene\u0301e Lefe\u0300vre today.", "Rene\u0301e Lefe\u0300vre"),
    ],
)
def test_names_in_any_script_are_removed_whole(text: str, name: str) -> None:
    assert found(text, "NAME") == [name]


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Admitted 09-Jan-2024 for chest pain.", "09-Jan-2024"),
        ("Admitted 9/jan/24 for chest pain.", "9/jan/24"),
        ("ADMITTED 09-JAN-2024.", "09-JAN-2024"),
        ("Admitted Jan-09-2024 for chest pain.", "Jan-09-2024"),
        ("Admitted 2024-Jan-09 for chest pain.", "2024-Jan-09"),
        ("Seen on 2024/01/09 in clinic.", "2024/01/09"),
        ("Seen on 2024/1/9 in clinic.", "2024/1/9"),
        ("DOB: 1950.03.14", "1950.03.14"),
        ("Visit 2024-1-9.", "2024-1-9"),
        ("Port placed 11/2019 without issue.", "11/2019"),
        ("Symptoms since Jan-2023.", "Jan-2023"),
        ("Antibiotics 1/3-1/9 completed.", "1/3-1/9"),
        ("Antibiotics 1/3 - 1/9 completed.", "1/3 - 1/9"),
        ("Inpatient Jan 3-9 this year.", "Jan 3-9"),
        ("Inpatient March 3rd to 9th.", "March 3rd to 9th"),
        ("Seen on 03-14-2024.", "03-14-2024"),
        ("On 14.03.2024 the patient fell.", "14.03.2024"),
    ],
)
def test_every_date_layout_is_removed_whole(text: str, date: str) -> None:
    assert found(text, "DATE") == [date]


@pytest.mark.parametrize(
    ("text", "weekday"),
    [
        ("Plan: return Monday for labs.", "Monday"),
        ("pt called on tuesday about refills", "tuesday"),
        ("FOLLOW UP THURSDAY", "THURSDAY"),
        ("Clinic on Wed 3/4 at noon.", "Wed"),
        ("Clinic on Thurs., March 7 at noon.", "Thurs"),
    ],
)
def test_weekdays_are_part_of_a_date(text: str, weekday: str) -> None:
    assert weekday in found(text, "DATE")


@pytest.mark.parametrize(
    "text",
    [
        "BP 120/80, HR 72.",
        "Strength 5/5 in all extremities.",
        "Pain 7/10 at rest.",
        "Sat 95% on RA.",
        "pH 7.35",
        "3/6 systolic murmur at the apex.",
        "A 2/6 holosystolic ejection murmur.",
        "Now on day 4/10 of cefazolin.",
        "Completed 7/10 days of therapy.",
    ],
)
def test_measurements_are_not_dates(text: str) -> None:
    assert found(text, "DATE") == []


def test_a_slash_date_after_an_event_is_still_a_date() -> None:
    assert found("Extubated 4/10 and doing well.", "DATE") == ["4/10"]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("MRN: 482 133 77 noted", "MRN", "482 133 77"),
        ("MRN 482-133-77", "MRN", "482-133-77"),
        ("Medical record no. 48213377.", "MRN", "48213377"),
        ("Policy number: AB 1234 5678", "HEALTH_PLAN", "AB 1234 5678"),
        ("Account # 99-1234-55", "ACCOUNT", "99-1234-55"),
        ("Device S/N: XK42-7781-09", "DEVICE", "XK42-7781-09"),
        ("Lot # 3341A", "DEVICE", "3341A"),
        ("Study subject ID: ONC-2231-017", "ID", "ONC-2231-017"),
        ("Case no. 2023-44812", "ID", "2023-44812"),
        ("username: jdoe42", "ID", "jdoe42"),
        ("Login = k.morrow", "ID", "k.morrow"),
        ("Image file MRN48213377_chest.png uploaded", "ID", "MRN48213377_chest"),
        ("Enrolled in NCT01234567 last year.", "ID", "NCT01234567"),
        ("Ref 4417203388 on file.", "ID", "4417203388"),
    ],
)
def test_identifiers_after_a_cue_or_in_a_file_name_go_whole(text: str, kind: str, value: str) -> None:
    assert found(text, kind) == [value]


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("She turned 101 last week.", "101"),
        ("Family celebrated her 95th birthday.", "95"),
        ("He turns 92 in May.", "92"),
        ("a 96-year-old woman", "96"),
        ("one hundred and four year old man", "one hundred and four"),
    ],
)
def test_ages_over_89_in_any_phrasing(text: str, age: str) -> None:
    assert found(text, "AGE") == [age]


@pytest.mark.parametrize(
    "text", ["Ages 45 and 60.", "He turned 45 last week.", "HR 96, RR 18.", "Turned q2h."]
)
def test_ages_under_90_and_vitals_stay(text: str) -> None:
    assert found(text, "AGE") == []


@pytest.mark.parametrize(
    "text",
    [
        "Fascia closed with running 3-0 Zorbalon in the usual fashion.",
        "Two Quenby clamps were placed on the cervix.",
        "Skin closed with #2 Travik and staples.",
        "The Delmont fascia was incised sharply.",
        "A 14 gauge Kestra was advanced.",
        "Zorbalon was used for the deep layer; then 4-0 Zorbalon for the skin.",
        "Ligated with 0 Zorbalon; skin with #4-0 undyed Zorbalon.",
        "A 24 French Quenby catheter was inserted.",
        "A curved Quenby was placed. The Quenby was then removed.",
        "Two straight Kessop's were placed across the ligament.",
        "The Travik tubing was tunneled; Travik was flushed.",
        "Hemostasis with thrombin, Gelfoam and Travik.",
        "The drain was secured and a Kessop and Travik were applied.",
        "The incisions were closed using Travik.",
        "He took 8 Travik over the weekend.",
        "Dressed with fluff, Kessop, stockinette and an elastic bandage.",
        "Tubal ligation by a modified Kessop method.",
        "The field was prepped with Travik and draped.",
        "Discharged on Travik 500 mg twice daily.",
        "Bunion corrected by Kessop osteotomy with screw fixation.",
        "Options include Kessop exercises and Travik bulking agents.",
        "The lesion was excised utilizing a Travik and closed.",
        "Transferred to the Postanesthesia Care Unit.",
    ],
)
def test_brands_and_eponyms_of_instruments_and_materials_are_not_names(text: str) -> None:
    """Made-up brand words (no list knows them): their place in the sentence says they are things."""
    assert found(text, "NAME") == []


def test_an_unknown_word_in_a_name_position_is_still_a_name() -> None:
    assert found("Family meeting with Tavrosi today.", "NAME") == ["Tavrosi"]
    assert found("Dr. Quenby placed two clamps.", "NAME") == ["Quenby"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Nurse: Dana Pruitt checked the line.", "Dana Pruitt"),
        ("Baby girl Okafor was born at 34 weeks.", "Okafor"),
        ("BABY BOY VANTERPOOL in the nursery.", "VANTERPOOL"),
        ("Son Zookie visited.", "Zookie"),
    ],
)
def test_names_after_a_role_a_relative_or_baby_boy_girl(text: str, name: str) -> None:
    assert found(text, "NAME") == [name]


@pytest.mark.parametrize(
    "text",
    [
        "NURSE: Okay. Did you sleep?",
        "Patient: No. I did not.",
        "Patient: Yes, since Monday night.",
        "Patient: Better today, thanks.",
    ],
)
def test_a_reply_after_a_speaker_label_is_not_a_name(text: str) -> None:
    """In a transcript the words after "Patient:" are what the speaker says, not who the speaker is."""
    assert found(text, "NAME") == []


def test_a_family_or_a_cue_keeps_a_name_a_name_after_an_article() -> None:
    assert found("Met with the Kessop family today.", "NAME") == ["Kessop"]
    assert found("Spoke with his wife and Travik today.", "NAME") == ["Travik"]
    assert found("Visited by Okoro and Travik.", "NAME") == ["Okoro", "Travik"]
    assert found("A Kessop clamp was used. Dr. Kessop was notified.", "NAME") == ["Kessop"]


@pytest.mark.parametrize(
    "text",
    [
        "The cisterna magna is enlarged.",  # "magna": a word of anatomy, and a town
        "Transferred to the Recovery Room in stable condition.",
        "Taken to the Postanesthesia Care Unit, awake.",
        "Admitted to the Hospitalist Service overnight.",
        "She presented to Labor and Delivery at 39 weeks.",
    ],
)
def test_anatomy_and_hospital_units_are_not_places(text: str) -> None:
    assert found(text, "LOCATION") == []


def test_a_hospital_after_a_move_is_still_a_place() -> None:
    assert found("Transferred to Lakeview Memorial today.", "LOCATION") == ["Lakeview Memorial"]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Lives at 17 w elm st unit 3 with her son.", "ADDRESS", "17 w elm st unit 3"),
        ("address: 4410 north cedar ridge road, apt 2b", "ADDRESS", "4410 north cedar ridge road, apt 2b"),
        ("Moved to Larkfield IL 62704 last year.", "ZIP", "62704"),
        ("Moved to Larkfield IL 62704 last year.", "LOCATION", "Larkfield"),
        ("Her sister's postcode is SW1A 1AA.", "ZIP", "SW1A 1AA"),
        ("Mailing code K1A 0B1 on file.", "ZIP", "K1A 0B1"),
    ],
)
def test_addresses_in_any_case_and_postcodes_of_other_countries(text: str, kind: str, value: str) -> None:
    assert value in found(text, kind)


@pytest.mark.parametrize(
    "text",
    [
        "Took 2 tabs per day st",
        "PT HAD 3 EPISODES ST IN 130S.",
        "Drain output 60 minutes after ct placement.",
        "given 20 mg po q day",
    ],
)
def test_counts_and_abbreviations_are_not_addresses(text: str) -> None:
    assert found(text, "ADDRESS") == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("My knee still hurts.\nThanks,\nSunny\n", ["Sunny"]),
        ("Thank you for the referral. Regards, Dana Pruitt", ["Dana Pruitt"]),
        ("Sunny, her sister, visited today.", ["Sunny"]),
        ("Spoke with her daughter Rose and son-in-law Walt.", ["Rose", "Walt"]),
        ("Hi Dr. Okafor, my knee still hurts.", ["Okafor"]),
        ("Thanks, Nurse", []),
    ],
)
def test_signatures_of_messages_appositions_and_relatives_beside_names(text: str, names: list[str]) -> None:
    assert found(text, "NAME") == names
