export * from "./values";
export * from "./names";
export * from "./connection";
