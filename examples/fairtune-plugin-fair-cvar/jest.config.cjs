module.exports = { displayName: 'example-fair-cvar', preset: '../../jest.preset.cjs' };
