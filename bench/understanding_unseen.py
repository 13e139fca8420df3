"""A held-out corpus for `bench.understanding`, written without sight of the offline model's
rules or of the other corpora: 80 messages as people type them on a phone (lowercase, typos,
filler, short follow-ups), over the same nine seeded tasks and the pinned Wednesday
2026-12-02. Dates: Thu 3, Fri 4, Sat 5, Sun 6, Mon 7, Tue 8 and Wed 9 December 2026.
"""

from __future__ import annotations

from bench.understanding import (
    Case,
    OneOf,
    added,
    asked,
    changed,
    completed,
    deleted,
    listed,
    nothing,
    reopened,
)

# A listing that names neither open nor finished tasks may use any of these statuses.
ANY_STATUS = OneOf(None, "all", "pending")

UNSEEN: list[Case] = [
    # --- misspellings ------------------------------------------------------------------------
    Case("misspellings", "mark the dentst call as dnoe", completed(2)),
    Case("misspellings", "delet the quartely report pls", asked()),  # typo: confirmed first
    Case("misspellings", "chnage the electrcity bill to monady", changed(4, due="2026-12-07")),
    Case("misspellings", "set pasport priorty to hihg", changed(5, priority="high")),
    Case("misspellings", "shwo me my wrok tasks", listed(tag="work", status=ANY_STATUS)),
    Case("misspellings", "finshed the invioce to acme", asked()),  # typo: confirmed first
    Case(
        "misspellings",
        "add a noet to the meeting with sma: bring the slides",
        changed(9, note="bring the slides"),
    ),
    # --- priority in words -------------------------------------------------------------------
    Case(
        "priority in words",
        "the passport is actually really important now, trip is coming up",
        changed(5, priority="high"),
    ),
    Case(
        "priority in words",
        "dentist call isnt a big deal anymore tbh",
        changed(2, priority=OneOf("low", "medium")),
    ),
    Case(
        "priority in words",
        "the quarterly report is the single most important thing on my list",
        changed(6, priority="high"),
    ),
    Case(
        "priority in words",
        "electricity bill is kinda whatever, give it the lowest importance",
        changed(4, priority="low"),
    ),
    Case(
        "priority in words",
        "add return library books, not important at all",
        added("Return library books", priority="low"),
    ),
    Case(
        "priority in words",
        "add file taxes, this one really really matters",
        added("File taxes", priority="high"),
    ),
    # --- dates in words ----------------------------------------------------------------------
    Case(
        "dates in words",
        "move the quarterly report to next friday",
        changed(6, due=OneOf("2026-12-04", "2026-12-11")),
    ),
    Case(
        "dates in words",
        "passport needs to be done by the end of the month",
        changed(5, due="2026-12-31"),
    ),
    Case(
        "dates in words",
        "add dinner with the in-laws on saturday",
        added("Dinner with the in-laws", due="2026-12-05"),
    ),
    Case(
        "dates in words",
        "push the electricity bill back by a week",
        changed(4, due="2026-12-12"),
    ),
    Case(
        "dates in words",
        "groceries need doing the day after tomorrow",
        changed(1, due="2026-12-04"),
    ),
    Case(
        "dates in words",
        "team meeting prep is due a week from today",
        changed(8, due="2026-12-09"),
    ),
    # --- follow-ups --------------------------------------------------------------------------
    Case(
        "follow-ups",
        "make that due tomorrow",
        changed(10, due="2026-12-03"),
        before=("add call the plumber",),
    ),
    Case(
        "follow-ups",
        "tag it health",
        changed(10, tags=["health"]),
        before=("add renew gym membership",),
    ),
    Case(
        "follow-ups",
        "same for the electricity bill",
        changed(4, due="2026-12-07"),
        before=("move the dentist to monday",),
    ),
    Case(
        "follow-ups",
        "actually nah, delete it",
        deleted(10),
        before=("add book a table at luigi's",),
    ),
    Case(
        "follow-ups",
        "and the passport one too",
        completed(5),
        before=("mark the groceries done",),
    ),
    Case(
        "follow-ups",
        "its not important, low is fine",
        changed(10, priority="low"),
        before=("add fix the bike",),
    ),
    # --- done said as a state ----------------------------------------------------------------
    Case("done said as a state", "the dentist has been called", completed(2)),
    Case("done said as a state", "electricity bill's paid :)", completed(4)),
    Case("done said as a state", "acme invoice is out the door", completed(3)),
    Case("done said as a state", "quarterly report is finally finished!!", completed(6)),
    Case("done said as a state", "team meeting prep is all sorted", completed(8)),
    Case("done said as a state", "passport got renewed last week actually", completed(5)),
    # --- reopening ---------------------------------------------------------------------------
    Case(
        "reopening",
        "the lisbon flights fell through, i still need to book them",
        reopened(7),
    ),
    Case("reopening", "unmark the flights one", reopened(7)),
    Case("reopening", "task 7 isnt actually done", reopened(7)),
    Case(
        "reopening",
        "ugh they didnt pick up, so thats not done after all",
        reopened(2),
        before=("the dentist has been called",),
    ),
    Case("reopening", "hmm undo that", reopened(4), before=("done with task 4",)),
    Case(
        "reopening",
        "oh hang on i forgot the milk, put groceries back on my list",
        reopened(1),
        before=("groceries done",),
    ),
    # --- notes -------------------------------------------------------------------------------
    Case(
        "notes",
        "add a note to the dentist: ask about the whitening",
        changed(2, note="ask about the whitening"),
    ),
    Case(
        "notes",
        "for the acme invoice, its net 30 - put that in the notes",
        changed(3, note="net 30"),
    ),
    Case(
        "notes",
        "passport: note that i need two new photos",
        changed(5, note="two new photos"),
    ),
    Case(
        "notes",
        "on the groceries one write eggs, bread, oat milk",
        changed(1, note="oat milk"),
    ),
    Case(
        "notes",
        "attach a note to the sam meeting saying bring the budget numbers",
        changed(9, note="bring the budget numbers"),
    ),
    Case(
        "notes",
        "the quarterly report needs the q3 figures from finance, add that as a note",
        changed(6, note="q3 figures from finance"),
    ),
    # --- delete in other words ---------------------------------------------------------------
    Case(
        "delete in other words",
        "get rid of the meeting with sam, it got cancelled",
        deleted(9),
    ),
    Case(
        "delete in other words",
        "i dont need the passport task anymore, lose it",
        deleted(5),
    ),
    Case("delete in other words", "bin the quarterly report one", deleted(6)),
    Case(
        "delete in other words",
        "take the team meeting prep off my list for good, we're not having it",
        deleted(8),
    ),
    Case(
        "delete in other words",
        "the lisbon trip is off so ditch the flights task",
        deleted(7),
    ),
    Case(
        "delete in other words",
        "cancel the electricity bill task, its on autopay now so i dont need it",
        deleted(4),
    ),
    # --- corrections mid-sentence ------------------------------------------------------------
    Case(
        "corrections mid-sentence",
        "move the dentist to monday, er tuesday actually",
        changed(2, due="2026-12-08"),
    ),
    Case(
        "corrections mid-sentence",
        "mark task 4 as done - sorry, i meant 3",
        completed(3),
    ),
    Case(
        "corrections mid-sentence",
        "set the passport to high, hmm, actually medium is fine",
        changed(5, priority="medium"),
    ),
    Case(
        "corrections mid-sentence",
        "add buy batteries, sorry, buy AA batteries",
        added("Buy AA batteries"),
    ),
    Case("corrections mid-sentence", "delete 8 oops i mean 9", deleted(9)),
    Case(
        "corrections mid-sentence",
        "rename the sam meeting to lunch with sam, or actually coffee with sam",
        changed(9, title="Coffee with Sam"),
    ),
    # --- questions in words ------------------------------------------------------------------
    Case("questions in words", "what do i still have left to do", listed(status="pending")),
    Case(
        "questions in words",
        "which ones have i already ticked off",
        listed(status="completed"),
    ),
    Case(
        "questions in words",
        "anything tagged home?",
        listed(tag="home", status=ANY_STATUS),
    ),
    Case(
        "questions in words",
        "whats high priority rn",
        listed(priority="high", status=ANY_STATUS),
    ),
    Case(
        "questions in words",
        "is there anything about the invoice on there",
        listed(search=OneOf("invoice", "the invoice"), status=ANY_STATUS),
    ),
    Case(
        "questions in words",
        "which work things havent i done yet",
        listed(tag="work", status="pending"),
    ),
    # --- unclear targets ---------------------------------------------------------------------
    Case("unclear targets", "delete the meeting", asked()),
    Case("unclear targets", "mark the work one as done", asked()),
    Case("unclear targets", "change the due date", asked()),
    Case("unclear targets", "bump it up to high", asked()),
    Case("unclear targets", "finish task 23", asked()),
    Case("unclear targets", "push the work task to friday", asked()),
    # --- adding, said casually ---------------------------------------------------------------
    Case("adding, said casually", "oh and i need to water the plants", added("Water the plants")),
    Case("adding, said casually", "remind me to text jess back", added("Text Jess back")),
    Case(
        "adding, said casually",
        "stick get a haircut on the list for saturday",
        added("Get a haircut", due="2026-12-05"),
    ),
    Case(
        "adding, said casually",
        "new one: order printer ink, tag it work",
        added("Order printer ink", tags=["work"]),
    ),
    Case(
        "adding, said casually",
        "gotta clean out the garage at some point, low prio",
        added("Clean out the garage", priority="low"),
    ),
    Case(
        "adding, said casually",
        "hey can u add pick up the dry cleaning",
        added("Pick up the dry cleaning"),
    ),
    # --- chatter -----------------------------------------------------------------------------
    Case("chatter", "thanks!!", nothing()),
    Case("chatter", "lol ok", nothing()),
    Case("chatter", "good morning :)", nothing()),
    Case("chatter", "you're a lifesaver honestly", nothing()),
    Case("chatter", "what can you do?", nothing()),
    Case("chatter", "hmm let me think", nothing()),
    Case("chatter", "ok cool, thats all for now", nothing()),
]
