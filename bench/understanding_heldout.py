"""A held-out corpus for `bench.understanding`: 100 phrasings written without seeing the
offline model's rules or the development corpus (`bench/understanding_corpus.py`).

Same format and seed as the development corpus: every case starts from the nine seeded
tasks (1-9, the seventh already done), today is Wednesday 2026-12-02, and a task added in a
case is number 10. Phrasings are typed the way people type on a phone: lowercase, typos,
abbreviations, filler, British and American forms.
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

# A question that does not say open or done may be answered with all tasks or the open ones.
ANY_OR_OPEN = OneOf(None, "", "all", "pending")

HELD_OUT: list[Case] = [
    # --- misspellings ----------------------------------------------------------------------
    Case("misspellings", "remnd me to water the plants", added("Water the plants")),
    Case("misspellings", "mark grocerys as done", completed(1)),
    Case("misspellings", "delte the pasport one", asked()),  # typo: confirmed first
    Case(
        "misspellings",
        "chnage the electricty bill to high priorty",
        changed(4, priority="high"),
    ),
    Case("misspellings", "shwo me my wrok tasks", listed(tag="work")),
    Case("misspellings", "move calling the dentsit to monday pls", changed(2, due="2026-12-07")),
    Case("misspellings", "compelte the quartrely report", asked()),  # typo: confirmed first
    Case("misspellings", "reopne the lisbon flihgts", reopened(7)),
    # --- priority in words -----------------------------------------------------------------
    Case(
        "priority in words",
        "renewing my passport is now really important",
        changed(5, priority="high"),
    ),
    Case(
        "priority in words",
        "dentist call isn't that pressing anymore, lower it",
        changed(2, priority=OneOf("medium", "low")),
    ),
    Case(
        "priority in words",
        "add sort out the garage, it's not important at all",
        added("Sort out the garage", priority="low"),
    ),
    Case("priority in words", "acme invoice is super urgent!!", changed(3, priority="high")),
    Case(
        "priority in words",
        "the quarterly report can wait, it's low importance",
        changed(6, priority="low"),
    ),
    Case(
        "priority in words",
        "set passport back to normal priority",
        changed(5, priority="medium"),
    ),
    Case(
        "priority in words",
        "add fix the leaking tap, high prio",
        added("Fix the leaking tap", priority="high"),
    ),
    Case("priority in words", "meeting with sam is crucial", changed(9, priority="high")),
    # --- dates in words --------------------------------------------------------------------
    Case(
        "dates in words",
        "add take the car in for its service on monday",
        added("Take the car in for its service", due="2026-12-07"),
    ),
    Case(
        "dates in words",
        "the quarterly report is due the day after tomorrow",
        changed(6, due="2026-12-04"),
    ),
    Case(
        "dates in words",
        "move the electricity bill to christmas eve",
        changed(4, due="2026-12-24"),
    ),
    Case(
        "dates in words",
        "add renew gym membership by new year's eve",
        added("Renew gym membership", due="2026-12-31"),
    ),
    Case("dates in words", "meeting with sam is a week from today", changed(9, due="2026-12-09")),
    Case(
        "dates in words",
        "set the passport renewal for jan 15th",
        changed(5, due="2027-01-15"),
    ),
    Case(
        "dates in words",
        "add book a haircut for this saturday",
        added("Book a haircut", due="2026-12-05"),
    ),
    Case(
        "dates in words",
        "prep for the team meeting needs to happen by next tuesday",
        changed(8, due=OneOf("2026-12-08", "2026-12-15")),
    ),
    # --- follow-ups ------------------------------------------------------------------------
    Case(
        "follow-ups",
        "thats pretty important actually, set it to high",
        changed(10, priority="high"),
        before=("add call the plumber",),
    ),
    Case(
        "follow-ups",
        "oh and it's needed by saturday",
        changed(10, due="2026-12-05"),
        before=("add buy a birthday card for Jo",),
    ),
    Case(
        "follow-ups",
        "ok mark it done",
        completed(2),
        before=("is there anything about the dentist?",),
    ),
    Case(
        "follow-ups",
        "tag that one home",
        changed(10, tags=["home"]),
        before=("add pick up the kids costumes",),
    ),
    Case(
        "follow-ups",
        "hmm actually make it monday instead",
        changed(4, due="2026-12-07"),
        before=("move the electricity bill to friday",),
    ),
    Case(
        "follow-ups",
        "actually scrap that, i added it by mistake",
        deleted(10),
        before=("add renew car insurance",),
    ),
    Case(
        "follow-ups",
        "and the passport one too",
        completed(5),
        before=("mark the dentist call as done",),
    ),
    Case(
        "follow-ups",
        "put a note on it: the ones on the balcony as well",
        changed(10, note="balcony"),
        before=("add water the plants",),
    ),
    # --- done said as a state --------------------------------------------------------------
    Case("done said as a state", "the dentist has been called", completed(2)),
    Case("done said as a state", "electricity bill's paid", completed(4)),
    Case("done said as a state", "quarterly report is finished, finally!!", completed(6)),
    Case("done said as a state", "passport got renewed yesterday", completed(5)),
    Case(
        "done said as a state",
        "just back from the shops, groceries all sorted",
        completed(1),
    ),
    Case("done said as a state", "team meeting is all prepped", completed(8)),
    Case("done said as a state", "acme's invoice went out this morning", completed(3)),
    Case("done said as a state", "had my meeting with sam earlier, went well", completed(9)),
    # --- reopening -------------------------------------------------------------------------
    Case(
        "reopening",
        "the lisbon flights aren't actually booked, the payment failed",
        reopened(7),
    ),
    Case("reopening", "put booking flights to lisbon back on my to-do list", reopened(7)),
    Case("reopening", "unmark the lisbon flights", reopened(7)),
    Case(
        "reopening",
        "wait no, the payment bounced, it's still to do",
        reopened(4),
        before=("electricity bill paid",),
    ),
    Case(
        "reopening",
        "oops wrong one, undo that",
        reopened(1),
        before=("done with the groceries",),
    ),
    Case("reopening", "lisbon flights need doing again, airline cancelled on me", reopened(7)),
    Case(
        "reopening",
        "ugh my boss sent the report back, it's not done anymore",
        reopened(6),
        before=("the quarterly report is done",),
    ),
    # --- notes -----------------------------------------------------------------------------
    Case(
        "notes",
        "add a note to the dentist: ask about the filling",
        changed(2, note="ask about the filling"),
    ),
    Case(
        "notes",
        "for the acme invoice, note that the PO number is 4471",
        changed(3, note="4471"),
    ),
    Case(
        "notes",
        "jot down on the passport task that the photos need to be new",
        changed(5, note="photos need to be new"),
    ),
    Case(
        "notes",
        "on groceries put a note: oat milk, eggs, bread",
        changed(1, note="oat milk eggs bread"),
    ),
    Case(
        "notes",
        "add details to the meeting with sam - discuss the budget",
        changed(9, note="discuss the budget"),
    ),
    Case(
        "notes",
        "add call the bank, note: ask about the mortgage rate",
        added("Call the bank", note="ask about the mortgage rate"),
    ),
    Case(
        "notes",
        "note on the quarterly report: include the Q3 sales figures",
        changed(6, note="include the q3 sales figures"),
    ),
    # --- delete in other words -------------------------------------------------------------
    Case("delete in other words", "get rid of the passport task", deleted(5)),
    Case("delete in other words", "bin the team meeting prep", deleted(8)),
    Case("delete in other words", "scrap meeting with sam, it got cancelled", deleted(9)),
    Case("delete in other words", "take the lisbon flights off my list entirely", deleted(7)),
    Case(
        "delete in other words",
        "don't need the quarterly report task anymore, wipe it",
        deleted(6),
    ),
    Case("delete in other words", "forget about calling the dentist, remove it", deleted(2)),
    Case("delete in other words", "drop the acme invoice from my list", deleted(3)),
    # --- corrections mid-sentence ----------------------------------------------------------
    Case(
        "corrections mid-sentence",
        "add call grandma on thursday, i mean sunday",
        added("Call grandma", due="2026-12-06"),
    ),
    Case(
        "corrections mid-sentence",
        "set the dentist to low, er, medium priority",
        changed(2, priority="medium"),
    ),
    Case(
        "corrections mid-sentence",
        "delete the passport, no hang on, the electricity bill",
        deleted(4),
    ),
    Case("corrections mid-sentence", "mark task 5 done sorry i meant 6", completed(6)),
    Case(
        "corrections mid-sentence",
        "move the quarterly report to the 10th.. actually the 11th",
        changed(6, due="2026-12-11"),
    ),
    Case(
        "corrections mid-sentence",
        "add buy paint for the kitchen tag it work, oops no, home",
        added("Buy paint for the kitchen", tags=["home"]),
    ),
    Case(
        "corrections mid-sentence",
        "change meeting with sam to high, scratch that, low",
        changed(9, priority="low"),
    ),
    Case(
        "corrections mid-sentence",
        "complete the groceries \u2014 no wait, the team meeting prep",
        completed(8),
    ),
    # --- questions in words ----------------------------------------------------------------
    Case("questions in words", "what have i got left to do?", listed(status="pending")),
    Case("questions in words", "what have i already ticked off", listed(status="completed")),
    Case(
        "questions in words",
        "which of my things are urgent?",
        listed(priority="high", status=ANY_OR_OPEN),
    ),
    Case("questions in words", "got anything tagged home?", listed(tag="home", status=ANY_OR_OPEN)),
    Case(
        "questions in words",
        "any tasks about the passport?",
        listed(search="passport", status=ANY_OR_OPEN),
    ),
    Case(
        "questions in words",
        "what's low priority on my list",
        listed(priority="low", status=ANY_OR_OPEN),
    ),
    Case(
        "questions in words",
        "what do i need to get done by friday?",
        listed(due_before=OneOf("2026-12-04", "2026-12-05"), status=ANY_OR_OPEN),
    ),
    Case(
        "questions in words",
        "which work tasks haven't i done yet",
        listed(tag="work", status="pending"),
    ),
    # --- unclear targets -------------------------------------------------------------------
    Case("unclear targets", "mark the meeting as done", asked()),
    Case("unclear targets", "delete the dog walking task", asked()),
    Case("unclear targets", "set the work task to high priority", asked()),
    Case("unclear targets", "delete it", asked()),
    Case("unclear targets", "complete the gym one", asked()),
    Case("unclear targets", "reschedule the meeting for monday", asked()),
    Case("unclear targets", "change the due date on the dentist", asked()),
    Case("unclear targets", "rename task 42 to clean the oven", asked()),
    # --- adding, said casually -------------------------------------------------------------
    Case("adding, said casually", "need to buy batteries", added("Buy batteries")),
    Case(
        "adding, said casually",
        "oh i should ring my sister at some point",
        added("Ring my sister"),
    ),
    Case(
        "adding, said casually",
        "gotta return the library books by friday",
        added("Return the library books", due="2026-12-04"),
    ),
    Case(
        "adding, said casually",
        "don't let me forget to feed the neighbour's cat",
        added("Feed the neighbour's cat"),
    ),
    Case(
        "adding, said casually",
        "can u put down book a vet appointment for rex",
        added("Book a vet appointment for Rex"),
    ),
    Case(
        "adding, said casually",
        "stick 'order new glasses' on my list",
        added("Order new glasses"),
    ),
    Case("adding, said casually", "note to self: cancel netflix", added("Cancel netflix")),
    Case(
        "adding, said casually",
        "remind me to email Priya about the offsite",
        added("Email Priya about the offsite"),
    ),
    # --- chatter ---------------------------------------------------------------------------
    Case("chatter", "thanks!!", nothing()),
    Case("chatter", "lol ok", nothing()),
    Case("chatter", "good morning :)", nothing()),
    Case("chatter", "you're a lifesaver honestly", nothing()),
    Case("chatter", "how's your day going?", nothing()),
    Case("chatter", "ugh long week", nothing()),
    Case("chatter", "what can you do?", nothing()),
]
