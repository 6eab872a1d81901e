export * from "./policy";
