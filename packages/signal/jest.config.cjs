module.exports = { displayName: 'signal', preset: '../../jest.preset.cjs' };
