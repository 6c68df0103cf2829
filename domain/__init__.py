"""The renewal's rules, pure: no I/O, no clock, no framework. Dates, plans, scores, terms and
the words people read are decided here, once, for the workflow, the activities and every
interface."""
