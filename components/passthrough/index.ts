export * from "./detection";
export * from "./kernel-cmdline";
export * from "./modprobe";
export * from "../../provider/rules/pci";
export * from "./plan";
export * from "./scripts";
export * from "./shell";
export * from "./sysctl";
