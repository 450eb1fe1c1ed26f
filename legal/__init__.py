"""The privacy notice and terms of use that the Teams app links to (/privacy, /terms), written
from the school's policy file: who the data controller is, what is kept and for how long."""
