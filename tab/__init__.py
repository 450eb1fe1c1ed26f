"""The Teams tab: the school's record (Today, lessons, the register, the staff AUP,
exceptions, concerns, the annual review) as server-rendered pages, behind Teams single sign-on."""
