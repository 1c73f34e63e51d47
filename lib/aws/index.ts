import 'server-only';
// The AWS access layer others use: the one client factory, the one cache, error reasons, and the
// readers. Every reader returns plain values (DTOs), never SDK objects.
export { awsClients } from './clients';
export { cached, invalidateCache } from './cache';
export type { CachedValue, CacheOptions } from './cache';
export { describeAwsError, redact } from './errors';
export type { AwsErrorKind, AwsErrorDescription } from './errors';
export { readLinkboxParameters, parameterName, LINKBOX_PARAMETERS } from './parameters';
export type { LinkboxParameter, LinkboxParameters, LinkboxParameterKey } from './parameters';
export { describeDatabaseInstance } from './rds';
export type { DatabaseInstance } from './rds';
export { describeLinkboxSecurityGroups, describeBackendInstances, ruleCoversPort, describeRule } from './ec2';
export type { LinkboxSecurityGroups, SecurityGroupInfo, IngressRule, IngressSource, BackendInstance } from './ec2';
export { inspectBackendContainers, CONTAINER_NAME } from './run-command';
export type { ContainerInspection, ContainerReport } from './run-command';
