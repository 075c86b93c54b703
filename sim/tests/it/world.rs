//! World behaviour: durability, power loss, stalls, faults.
