"""People in the loop, in the browser: ``imitlab teleop`` records a person's demonstrations and take-overs of a
running policy (``session``, ``takeover``), ``imitlab view`` shows a dataset (``viewer``); ``server`` serves them."""
