//! The appliance configuration file (wg-quick dialect plus [LAN]/[WAN]).
