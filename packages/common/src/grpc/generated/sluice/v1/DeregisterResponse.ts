// Original file: proto/sluice/v1/driver.proto


export interface DeregisterResponse {
}

export interface DeregisterResponse__Output {
}
