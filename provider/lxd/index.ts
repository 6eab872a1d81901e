export * from "./errors";
export * from "./transport";
export * from "./types";
export * from "./client";
export * from "./instances";
export * from "./profiles";
export * from "./projects";
export * from "./images";
