"""The phrasings `bench/understanding.py` sends, written the way people type to a task app:
typos, words for priorities and dates, follow-ups about the task just discussed, completion
said as a state, notes, corrections mid-sentence, questions in words.

Every case starts from the same nine tasks (`SEED` in bench/understanding.py), numbered:

    1 Buy groceries #home               6 Write the quarterly report #work
    2 Call the dentist, Fri 4 Dec, high  7 Book flights to Lisbon (done)
    3 Send the invoice to Acme #work,    8 Prepare the team meeting #work
      Thu 3 Dec                          9 Meeting with Sam
    4 Pay the electricity bill, Sat 5 Dec
    5 Renew passport, low

Today is Wednesday 2 December 2026. A phrase people read two ways accepts both (`OneOf`).
A message whose target is unclear (two meetings) must be asked about, never guessed.
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

TOMORROW, FRIDAY, SATURDAY, SUNDAY = "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06"
MONDAY, TUESDAY, NEXT_WEDNESDAY = "2026-12-07", "2026-12-08", "2026-12-09"
WEEKEND = OneOf(SATURDAY, SUNDAY)
END_OF_WEEK = OneOf(FRIDAY, SUNDAY)
PENDING = OneOf(None, "all", "pending")  # a question about what's due means what's left


def _cases(kind: str, *pairs: tuple[object, ...]) -> list[Case]:
    cases = []
    for pair in pairs:
        if len(pair) == 2:
            say, expect = pair
            cases.append(Case(kind, str(say), expect))  # type: ignore[arg-type]
        else:
            before, say, expect = pair
            cases.append(Case(kind, str(say), expect, tuple(before)))  # type: ignore[arg-type]
    return cases


PLAIN = _cases(
    "plain commands",
    ("add buy milk", added("Buy milk")),
    ("Add a task to renew the car insurance", added("Renew the car insurance")),
    ("add book a haircut tomorrow", added("Book a haircut", due=TOMORROW)),
    (
        "add clean the garage saturday, low priority",
        added("Clean the garage", due=SATURDAY, priority="low"),
    ),
    ("add pick up the dry cleaning #errands", added("Pick up the dry cleaning", tags=["errands"])),
    ("show all my tasks", listed(status="all")),
    ("what's pending?", listed(status="pending")),
    ("what have I completed?", listed(status="completed")),
    ("complete task 1", completed(1)),
    ("mark task 4 as done", completed(4)),
    ("delete task 5", deleted(5)),
    ("reopen task 7", reopened(7)),
    ("change task 1 to 'Buy groceries and bread'", changed(1, title="Buy groceries and bread")),
    ("set the priority of task 6 to high", changed(6, priority="high")),
    ("move task 5 to friday", changed(5, due=FRIDAY)),
    ("delete the passport task", deleted(5)),
    ("complete the invoice task", completed(3)),
    ("show my high priority tasks", listed(priority="high")),
    ("list tasks tagged work", listed(tag="work")),
    ("help", nothing()),
)

MISSPELLED = _cases(
    "misspellings",
    ("ad buy stamps", added("Buy stamps")),
    ("addd water the ferns", added("Water the ferns")),
    ("add call grandma tmrw", added("Call grandma", due=TOMORROW)),
    ("add call grandma tmr", added("Call grandma", due=TOMORROW)),
    ("add dentist checkup on wendesday", added("Dentist checkup", due=NEXT_WEDNESDAY)),
    ("add return the library books fridya", added("Return the library books", due=FRIDAY)),
    ("add order a cake for satruday", added("Order a cake", due=SATURDAY)),
    ("add gym session tommorow", added("Gym session", due=TOMORROW)),
    ("add fix the bike tomorow", added("Fix the bike", due=TOMORROW)),
    ("add team lunch on thrusday", added("Team lunch", due=TOMORROW)),
    ("add pay rent on mondy", added("Pay rent", due=MONDAY)),
    # A delete or completion with a typo in its verb or its task is asked first ("Did you
    # mean ...?"), never done on a guess; "yes" then does it.
    ("compelte task 1", asked()),
    ("complet task 4", asked()),
    ("delet task 5", asked()),
    ("mark the invoce as done", asked()),
    ("finish the quartely report", asked()),
    ("remove the pasport task", asked()),
    (["delet task 5"], "yes", deleted(5)),
    (["compelte task 1"], "yep", completed(1)),
    (["mark the invoce as done"], "yes", completed(3)),
    (["remove the pasport task"], "yes please", deleted(5)),
    ("shwo my tasks", listed()),
    ("lsit my tasks", listed()),
    ("whats pendng", listed(status="pending")),
    (
        "add submit the expense report, hgih priority",
        added("Submit the expense report", priority="high"),
    ),
    ("add water the plants, priorty low", added("Water the plants", priority="low")),
    ("reopne task 7", reopened(7)),
    ("udpate task 6 to high priority", changed(6, priority="high")),
    ("pls add vaccum the stairs", added("Vaccum the stairs")),  # titles stay as typed
)

PRIORITY_WORDS = _cases(
    "priority in words",
    ("add fix the leaking tap, critical", added("Fix the leaking tap", priority="high")),
    ("add file the tax return - top priority", added("File the tax return", priority="high")),
    ("add learn to juggle someday", added("Learn to juggle", priority="low")),
    ("add sort the photo albums, no rush", added("Sort the photo albums", priority="low")),
    ("urgent: call the bank", added("Call the bank", priority="high")),
    ("add book the venue asap", added("Book the venue", priority="high")),
    ("add clear out the attic, whenever", added("Clear out the attic", priority="low")),
    ("add renew the domain, it's important", added("Renew the domain", priority="high")),
    ("add read that novel, not important", added("Read that novel", priority="low")),
    ("add update the CV, low prio", added("Update the CV", priority="low")),
    ("add pay the parking fine, high prio", added("Pay the parking fine", priority="high")),
    ("add buy a new kettle, medium priority", added("Buy a new kettle", priority="medium")),
    ("add email the landlord, super urgent", added("Email the landlord", priority="high")),
    (
        "add try the new ramen place, when I get a chance",
        added("Try the new ramen place", priority="low"),
    ),
    ("add get the boiler serviced, it's a must", added("Get the boiler serviced", priority="high")),
    ("task 5 is urgent", changed(5, priority="high")),
    ("the quarterly report can wait", changed(6, priority="low")),
    ("bump the report to high priority", changed(6, priority="high")),
    ("the groceries aren't important", changed(1, priority="low")),
    ("make the electricity bill top priority", changed(4, priority="high")),
    ("lower the priority of the dentist", changed(2, priority=OneOf("medium", "low"))),
)

DATE_WORDS = _cases(
    "dates in words",
    (
        "add hand in the thesis end of next week",
        added("Hand in the thesis", due=OneOf("2026-12-11", "2026-12-13")),
    ),
    ("add pay the gas bill on the 15th", added("Pay the gas bill", due="2026-12-15")),
    ("add book the ferry on the 3rd", added("Book the ferry", due=TOMORROW)),
    (
        "add renew the gym membership in a fortnight",
        added("Renew the gym membership", due="2026-12-16"),
    ),
    (
        "add send new year cards on the first of january",
        added("Send new year cards", due="2027-01-01"),
    ),
    ("add call the plumber in 3 days", added("Call the plumber", due=SATURDAY)),
    ("add water the garden in two weeks", added("Water the garden", due="2026-12-16")),
    ("add pack for the trip the day after tomorrow", added("Pack for the trip", due=FRIDAY)),
    ("add buy a christmas tree this weekend", added("Buy a christmas tree", due=WEEKEND)),
    (
        "add check the smoke alarms next monday",
        added("Check the smoke alarms", due=OneOf(MONDAY, "2026-12-14")),
    ),
    ("add finish the slides by end of the week", added("Finish the slides", due=END_OF_WEEK)),
    ("add close the books at the end of the month", added("Close the books", due="2026-12-31")),
    ("add wrap the presents by december 24", added("Wrap the presents", due="2026-12-24")),
    ("add dinner with Ana on jan 5", added("Dinner with Ana", due="2027-01-05")),
    ("add take out the recycling tonight", added("Take out the recycling", due="2026-12-02")),
    ("add call the vet today", added("Call the vet", due="2026-12-02")),
    (
        "add print the boarding passes in a week",
        added("Print the boarding passes", due=NEXT_WEDNESDAY),
    ),
    (
        "add plan the offsite next month",
        added("Plan the offsite", due=OneOf("2027-01-01", "2027-01-31")),
    ),
    ("add renew the lease by 20 december", added("Renew the lease", due="2026-12-20")),
    ("add cancel the trial in 10 days", added("Cancel the trial", due="2026-12-12")),
    (
        "add book the car service for next tuesday",
        added("Book the car service", due=OneOf(TUESDAY, "2026-12-15")),
    ),
    ("push the dentist to monday", changed(2, due=MONDAY)),
    ("move the invoice to next friday", changed(3, due=OneOf(FRIDAY, "2026-12-11"))),
    ("the electricity bill is due on the 10th", changed(4, due="2026-12-10")),
    ("postpone the report to the end of the month", changed(6, due="2026-12-31")),
    ("task 5 is due in a fortnight", changed(5, due="2026-12-16")),
    ("reschedule the meeting with Sam for tomorrow", changed(9, due=TOMORROW)),
    ("the groceries can wait until saturday", changed(1, due=SATURDAY)),
    ("set the passport deadline to jan 15", changed(5, due="2027-01-15")),
    ("remove the due date from the invoice", changed(3, due=None)),
)

FOLLOW_UPS = _cases(
    "follow-ups",
    (["add renew the car tax"], "make it urgent", changed(10, priority="high")),
    (["add renew the car tax"], "push it to monday", changed(10, due=MONDAY)),
    (["add renew the car tax"], "actually delete that", deleted(10)),
    (["add renew the car tax"], "mark it done", completed(10)),
    (["add renew the car tax"], "tag it #admin", changed(10, tags=["admin"])),
    (["add renew the car tax"], "make that low priority", changed(10, priority="low")),
    (
        ["add renew the car tax"],
        "rename it to renew the road tax",
        changed(10, title="Renew the road tax"),
    ),
    (["add renew the car tax"], "it's due friday", changed(10, due=FRIDAY)),
    (["complete task 4"], "oops, undo that", reopened(4)),
    (["complete task 4"], "no wait, reopen it", reopened(4)),
    (["show task 3"], "move it to next week", changed(3, due=OneOf(MONDAY, NEXT_WEDNESDAY))),
    (["set task 6 to high priority"], "and make it due friday", changed(6, due=FRIDAY)),
    (["what's due tomorrow?"], "mark it as done", completed(3)),
    (["add buy a birthday gift for mum"], "it's for saturday", changed(10, due=SATURDAY)),
    (
        ["add buy a birthday gift for mum"],
        "add a note: she likes orchids",
        changed(10, note="she likes orchids"),
    ),
    (["add buy a birthday gift for mum"], "make it high priority", changed(10, priority="high")),
    (["complete the dentist task"], "reopen it", reopened(2)),
    (["delete the meeting"], "the one with Sam", deleted(9)),
    (["delete the meeting"], "the second one", deleted(9)),
    (["delete the meeting"], "2", deleted(9)),
    (["complete the meeting"], "the team one", completed(8)),
    (["complete the meeting"], "the first", completed(8)),
    (["complete the meeting"], "never mind", nothing()),
    (["add renew the car tax"], "thanks!", nothing()),
    (
        ["add renew the car tax"],
        "what else is due this week?",
        listed(
            due_before=OneOf(FRIDAY, SUNDAY),
            status=PENDING,
            due_after=OneOf(None, "2026-12-02", "2026-11-30"),
        ),
    ),
)

DONE_AS_STATE = _cases(
    "done said as a state",
    ("I've sent the invoice", completed(3)),
    ("groceries are bought", completed(1)),
    ("bought the groceries", completed(1)),
    ("called the dentist", completed(2)),
    ("the electricity bill is paid", completed(4)),
    ("paid the electricity bill", completed(4)),
    ("passport renewed!", completed(5)),
    ("finally wrote the quarterly report", completed(6)),
    ("I'm done with the report", completed(6)),
    ("the invoice is sent", completed(3)),
    ("dentist: done", completed(2)),
    ("got the groceries", completed(1)),
    ("checked off the passport", completed(5)),
    ("the flights aren't booked after all", reopened(7)),
    ("I didn't book the flights after all", reopened(7)),
    ("turns out the lisbon flights still need booking", reopened(7)),
    ("flights to Lisbon: not done yet", reopened(7)),
    ("un-complete task 7", reopened(7)),
    ("I had the meeting", asked()),
    ("sent it", asked()),
)

NOTES = _cases(
    "notes",
    (
        "add a note to the invoice: include the VAT number",
        changed(3, note="include the VAT number"),
    ),
    ("note on task 2: ask about the wisdom tooth", changed(2, note="ask about the wisdom tooth")),
    ("for the passport task, note that photos are needed", changed(5, note="photos are needed")),
    ("add a note to task 6 - use the new template", changed(6, note="use the new template")),
    ("groceries note: oat milk, eggs, rice", changed(1, note="oat milk eggs rice")),
    (
        "add buy paint, note: the blue from the hall",
        added("Buy paint", note="the blue from the hall"),
    ),
    ("add call the insurer (policy 4471)", added("Call the insurer", note="policy 4471")),
    (
        "add book the table - note: ask for the terrace",
        added("Book the table", note="ask for the terrace"),
    ),
    (
        "set the description of task 4 to paid by direct debit",
        changed(4, note="paid by direct debit"),
    ),
    (
        "remember for the meeting with Sam: bring the contract",
        changed(9, note="bring the contract"),
    ),
)

DELETE_WORDS = _cases(
    "delete in other words",
    ("drop the passport task", deleted(5)),
    ("forget the groceries", deleted(1)),
    ("forget about task 6", deleted(6)),
    ("scrap the electricity bill", deleted(4)),
    ("get rid of the dentist task", deleted(2)),
    ("cancel the meeting with Sam", deleted(9)),
    ("remove task 3", deleted(3)),
    ("bin the quarterly report", deleted(6)),
    ("ditch task 1", deleted(1)),
    ("erase the passport one", deleted(5)),
    ("drop the meeting", asked()),
    ("delete it", asked()),
    ("forget it", nothing()),
    ("delete the yoga class", asked()),
    ("remove everything", asked()),
)

CORRECTIONS = _cases(
    "corrections mid-sentence",
    ("add call the bank friday, no wait, saturday", added("Call the bank", due=SATURDAY)),
    (
        "add book the dentist tuesday, sorry, I mean wednesday",
        added("Book the dentist", due=NEXT_WEDNESDAY),
    ),
    ("add pay rent monday no tuesday", added("Pay rent", due=TUESDAY)),
    ("add buy milk, I mean oat milk", added("Buy oat milk")),
    ("complete task 4, no, task 5", completed(5)),
    ("delete task 3 - wait, task 1", deleted(1)),
    (
        "add renew the lease, high priority, actually make it low",
        added("Renew the lease", priority="low"),
    ),
    ("move the dentist to friday, no, thursday", changed(2, due=TOMORROW)),
    ("set task 6 to low, sorry high priority", changed(6, priority="high")),
    ("add walk the dog tomorrow, or rather today", added("Walk the dog", due="2026-12-02")),
    ("mark task 1 done, I mean task 8", completed(8)),
    ("add email Jo on friday - scratch that, monday", added("Email Jo", due=MONDAY)),
)

QUESTIONS = _cases(
    "questions in words",
    (
        "anything due soon?",
        listed(
            due_before=OneOf(SUNDAY, "2026-12-09", TOMORROW, FRIDAY),
            status=PENDING,
            due_after=OneOf(None, "2026-12-02"),
        ),
    ),
    (
        "what's on for tomorrow?",
        listed(due_before=TOMORROW, due_after=OneOf(None, TOMORROW), status=PENDING),
    ),
    ("stuff for work", listed(tag="work")),
    ("what do I have for work?", listed(tag="work")),
    ("what's still open?", listed(status="pending")),
    ("what's left to do?", listed(status="pending")),
    ("what did I get done?", listed(status="completed")),
    (
        "what's due this week?",
        listed(
            due_before=END_OF_WEEK,
            status=PENDING,
            due_after=OneOf(None, "2026-12-02", "2026-11-30"),
        ),
    ),
    (
        "what's due today?",
        listed(due_before="2026-12-02", due_after=OneOf(None, "2026-12-02"), status=PENDING),
    ),
    ("anything overdue?", listed(due_before=OneOf("2026-12-01", "2026-12-02"), status="pending")),
    ("what's urgent?", listed(priority="high", status=PENDING)),
    ("which tasks are important?", listed(priority="high", status=PENDING)),
    ("what can wait?", listed(priority="low", status=PENDING)),
    ("do I have anything about the invoice?", listed(search="invoice")),
    ("is there a task about the dentist?", listed(search="dentist")),
    ("what's on my plate?", listed(status=PENDING)),
    ("what should I do next?", listed(status=PENDING)),
    (
        "what's coming up?",
        listed(
            status=PENDING,
            due_after=OneOf(None, "2026-12-02"),
            due_before=OneOf(None, NEXT_WEDNESDAY),
        ),
    ),
    ("how many tasks do I have?", listed()),
    ("anything for home?", listed(tag="home")),
    ("what's due on friday?", listed(due_before=FRIDAY, due_after=FRIDAY, status=PENDING)),
    ("what's due next week?", listed(due_after=MONDAY, due_before="2026-12-13", status=PENDING)),
    ("show me what I finished", listed(status="completed")),
    ("what's done?", listed(status="completed")),
    ("any meetings?", listed(search=OneOf("meeting", "meetings"))),
    (
        "what have I got on saturday?",
        listed(due_before=SATURDAY, due_after=SATURDAY, status=PENDING),
    ),
    ("my todo list please", listed()),
    ("what's high priority and still open?", listed(priority="high", status="pending")),
    ("show work tasks that are pending", listed(tag="work", status="pending")),
    ("list everything", listed(status="all")),
)

WHICH_ONE = _cases(
    "unclear targets",
    ("complete the meeting", asked()),
    ("delete the meeting task", asked()),
    ("mark the meeting as done", asked()),
    ("delete the bill", deleted(4)),
    ("delete the car", asked()),
    ("complete task 42", asked()),
    ("delete task 0", asked()),
    ("finish it", asked()),
    ("complete the thing", asked()),
    ("delete the report or the invoice", asked()),
    ("move the meeting to friday", asked()),
    (["delete the meeting task"], "Meeting with Sam", deleted(9)),
    (["mark the meeting as done"], "the team meeting one", completed(8)),
    (["delete the meeting task"], "neither", nothing()),
    (["delete the meeting task"], "task 8", deleted(8)),
)

CASUAL_ADD = _cases(
    "adding, said casually",
    ("remind me to call mum on sunday", added("Call mum", due=SUNDAY)),
    ("I need to buy printer ink", added("Buy printer ink")),
    ("gotta renew my library card", added("Renew my library card")),
    ("don't let me forget to feed the cat", added("Feed the cat")),
    ("put pick up the parcel on my list", added("Pick up the parcel")),
    ("new task: defrost the freezer", added("Defrost the freezer")),
    ("todo: book the MOT", added("Book the MOT")),
    ("I should really clean the oven", added("Clean the oven")),
    ("can you add order new glasses", added("Order new glasses")),
    ("note to self: back up the laptop", added("Back up the laptop")),
    ("must email the accountant by friday", added("Email the accountant", due=FRIDAY)),
    ("remember to water the plants tomorrow", added("Water the plants", due=TOMORROW)),
    ("- buy batteries", added("Buy batteries")),
    ("could you remind me to pay the nanny friday", added("Pay the nanny", due=FRIDAY)),
    ("put 'call the council' on the list", added("Call the council")),
)

# A repeat is stored as an RRULE; the due date is its first date from today (a Wednesday).
# Changing a repeat may move the due date to the rule's first date, so both are expected.
REPEATS = _cases(
    "repeating tasks",
    (
        "water the ferns every monday",
        added("Water the ferns", repeat="FREQ=WEEKLY;BYDAY=MO", due=MONDAY),
    ),
    ("add stretch every day", added("Stretch", repeat="FREQ=DAILY", due="2026-12-02")),
    (
        "add stand-up notes every weekday",
        added("Stand-up notes", repeat="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", due="2026-12-02"),
    ),
    (
        "add team sync every mon and thu #work",
        added("Team sync", repeat="FREQ=WEEKLY;BYDAY=MO,TH", due=TOMORROW, tags=["work"]),
    ),
    (
        "add clean the fridge every week",
        added("Clean the fridge", repeat="FREQ=WEEKLY", due="2026-12-02"),
    ),
    (
        "take out the recycling every other week",
        added("Take out the recycling", repeat="FREQ=WEEKLY;INTERVAL=2", due="2026-12-02"),
    ),
    (
        "add review the budget every 2 weeks",
        added("Review the budget", repeat="FREQ=WEEKLY;INTERVAL=2", due="2026-12-02"),
    ),
    (
        "add call grandma every other sunday",
        added("Call grandma", repeat="FREQ=WEEKLY;INTERVAL=2;BYDAY=SU", due=SUNDAY),
    ),
    (
        "add pay rent monthly on the 15th, high priority",
        added("Pay rent", repeat="FREQ=MONTHLY;BYMONTHDAY=15", due="2026-12-15", priority="high"),
    ),
    (
        "remind me to back up the laptop every month",
        added("Back up the laptop", repeat="FREQ=MONTHLY;BYMONTHDAY=2", due="2026-12-02"),
    ),
    ("add take vitamins daily", added("Take vitamins", repeat="FREQ=DAILY", due="2026-12-02")),
    ("make the dentist repeat every friday", changed(2, repeat="FREQ=WEEKLY;BYDAY=FR")),
    ("make task 3 repeat every monday", changed(3, repeat="FREQ=WEEKLY;BYDAY=MO", due=MONDAY)),
    ("the electricity bill repeats monthly", changed(4, repeat="FREQ=MONTHLY;BYMONTHDAY=5")),
    (
        ["add water the plants every monday"],
        "stop repeating task 10",
        changed(10, repeat=None),
    ),
    (["add water the plants every monday"], "stop repeating it", changed(10, repeat=None)),
    ("make task 6 repeat every blue moon", asked()),
)

CHATTER = _cases(
    "chatter",
    ("hi", nothing()),
    ("thanks", nothing()),
    ("good morning!", nothing()),
    ("what can you do?", nothing()),
    ("who are you?", nothing()),
    ("ok", nothing()),
    ("cool, cheers", nothing()),
    ("what's the weather like?", nothing()),
    ("bye", nothing()),
    ("lol", nothing()),
)

CORPUS: list[Case] = [
    *PLAIN,
    *MISSPELLED,
    *PRIORITY_WORDS,
    *DATE_WORDS,
    *FOLLOW_UPS,
    *DONE_AS_STATE,
    *NOTES,
    *DELETE_WORDS,
    *CORRECTIONS,
    *QUESTIONS,
    *WHICH_ONE,
    *CASUAL_ADD,
    *REPEATS,
    *CHATTER,
]
